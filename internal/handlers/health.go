package handlers

import (
	"context"
	"time"

	"mailsync/internal/api"
)

// Healthz answers while the process serves.
func (h *Handlers) Healthz(context.Context, api.HealthzRequestObject) (api.HealthzResponseObject, error) {
	return api.Healthz200JSONResponse{Status: "ok", Checks: map[string]string{}}, nil
}

// Readyz answers 200 when PostgreSQL and MongoDB both answer a ping within
// two seconds, and 503 naming the one that does not otherwise.
func (h *Handlers) Readyz(ctx context.Context, _ api.ReadyzRequestObject) (api.ReadyzResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	checks := map[string]string{"postgresql": "ok", "mongodb": "ok"}
	ready := true
	if err := h.cfg.Pool.Ping(ctx); err != nil {
		checks["postgresql"], ready = "unreachable", false
	}
	if h.cfg.Mongo != nil {
		if err := h.cfg.Mongo.Ping(ctx); err != nil {
			checks["mongodb"], ready = "unreachable", false
		}
	}
	if !ready {
		return api.Readyz503JSONResponse{Status: "unavailable", Checks: checks}, nil
	}
	return api.Readyz200JSONResponse{Status: "ok", Checks: checks}, nil
}
