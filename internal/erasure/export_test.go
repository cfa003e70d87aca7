package erasure

// Stopping is closed when s's runner stops claiming work (tests only).
func Stopping(s *Service) <-chan struct{} { return s.run.life.Claim().Done() }
