package maintenance

// Stopping is closed when c stops claiming work (tests only).
func Stopping(c *Cleaner) <-chan struct{} { return c.life.Claim().Done() }
