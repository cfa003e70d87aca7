package reconcile

// SetBeforeCompare makes runs built from c call f with their report id once
// the report is running and the lock held, before comparing (tests only).
func SetBeforeCompare(c *Config, f func(reportID int64)) { c.beforeCompare = f }

// Stopping is closed when r stops claiming work (tests only).
func Stopping(r *Reconciler) <-chan struct{} { return r.life.Claim().Done() }

// PeakReadBytes is the most bytes of MongoDB documents one read of r held
// at once (tests only).
func PeakReadBytes(r *Reconciler) int64 { return r.readPeak.Load() }
