package relay

// EmptyClaims counts the claims that found nothing to do (wasted wake-ups).
func (r *Relay) EmptyClaims() int64 { return r.emptyClaims.Load() }

// OnLoad sets a hook called with the count and bytes of each load of
// emails. Set it before Start.
func (r *Relay) OnLoad(f func(emails int, bytes int64)) { r.onLoad = f }
