package handlers

import (
	"context"
	"net/http"
	"sync"
	"time"

	"mailsync/internal/api"
)

// readyTimeout bounds each store's ping in /readyz.
const readyTimeout = 2 * time.Second

// Healthz answers while the process serves.
func (h *Handlers) Healthz(context.Context, api.HealthzRequestObject) (api.HealthzResponseObject, error) {
	return api.Healthz200JSONResponse{Status: "ok", Checks: map[string]string{}}, nil
}

// Readyz answers 200 when PostgreSQL and MongoDB both answer a ping (and
// every extra check passes: the LMTP listener, when it runs), and 503
// naming only the ones that do not otherwise. The stores are pinged at
// once, each under its own deadline, so a silent store neither delays the
// answer beyond that deadline nor gets the other one reported.
func (h *Handlers) Readyz(ctx context.Context, _ api.ReadyzRequestObject) (api.ReadyzResponseObject, error) {
	// Not the request's deadline: each check has its own.
	ctx = context.WithoutCancel(ctx)
	stores := map[string]Pinger{"postgresql": h.cfg.Pool}
	if h.cfg.Mongo != nil {
		stores["mongodb"] = h.cfg.Mongo
	}
	checks := map[string]string{"postgresql": "ok", "mongodb": "ok"}
	for name := range h.cfg.Checks {
		checks[name] = "ok"
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ready := true
	for name, p := range stores {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			if err := p.Ping(pctx); err != nil {
				mu.Lock()
				checks[name], ready = "unreachable", false
				mu.Unlock()
			}
		})
	}
	for name, p := range h.cfg.Checks {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			if err := p.Ping(pctx); err != nil {
				mu.Lock()
				checks[name], ready = err.Error(), false
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if !ready {
		return notReady{api.Readyz503JSONResponse{Status: "unavailable", Checks: checks}}, nil
	}
	return api.Readyz200JSONResponse{Status: "ok", Checks: checks}, nil
}

// notReady is the 503 of /readyz with a Retry-After, like every other 503.
type notReady struct{ api.Readyz503JSONResponse }

func (n notReady) VisitReadyzResponse(w http.ResponseWriter) error {
	w.Header().Set("Retry-After", "1")
	return n.Readyz503JSONResponse.VisitReadyzResponse(w)
}
