package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"mailsync/internal/api"
	"mailsync/internal/apperr"
	"mailsync/internal/auth"
	"mailsync/internal/email"
	"mailsync/internal/handlers"
)

// The HTTP floor (`bench floor`) is what POST /v1/emails would answer at
// if storing cost nothing: the same HTTP stack as `server serve` — the same
// router and middleware chain (request id, metrics, access log, recoverer,
// authentication, body limits, in-flight bound, parameter and UTF-8/NUL
// checks, deadline), the generated code decoding the JSON body into the
// request type, the same http.Server settings, JSON logs on stderr — whose
// CreateEmail answers 201 with a pre-rendered email of the same size as
// mailsync's answer, without validating, hashing or storing anything. It
// runs as its own process, like the server, and is driven by the same load
// generator.

// floorAPI is the service's Handlers with CreateEmail answered at once.
type floorAPI struct {
	*handlers.Handlers
	body []byte
}

func (f floorAPI) CreateEmail(_ context.Context, req api.CreateEmailRequestObject) (api.CreateEmailResponseObject, error) {
	if req.JSONBody == nil {
		return nil, apperr.New(apperr.Unsupported, "the floor takes JSON only")
	}
	return floorResponse{key: req.Params.IdempotencyKey, body: f.body}, nil
}

type floorResponse struct {
	key  string
	body []byte
}

func (r floorResponse) VisitCreateEmailResponse(w http.ResponseWriter) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Idempotency-Key", r.key)
	h.Set("Idempotent-Replayed", "false")
	h.Set("Location", "/v1/emails/123456")
	w.WriteHeader(http.StatusCreated)
	_, err := w.Write(r.body)
	return err
}

// floorMain serves the floor on 127.0.0.1:0 until SIGTERM, logging as
// serve does (its "serving" line carries the address).
func floorMain() int {
	slog.SetDefault(slog.New(handlers.LogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(err error) int { slog.Error("floor", "err", err); return 1 }
	body, err := sampleResponseBody(sampleContent("<floor@bench.example.com>"))
	if err != nil {
		return fail(err)
	}
	keys, err := auth.ParseKeys("bench:" + benchToken + ":ingest+read")
	if err != nil {
		return fail(err)
	}
	router, err := handlers.Router(floorAPI{Handlers: handlers.New(&handlers.Config{}), body: body},
		handlers.RouterConfig{Keys: keys, MaxBodyBytes: 26214400})
	if err != nil {
		return fail(err)
	}
	srv := handlers.NewServer(router, handlers.ServerConfig{BaseContext: context.WithoutCancel(ctx)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	slog.Info("serving", "addr", ln.Addr().String())
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return fail(err)
	}
	return 0
}

// Readyz answers ready: the floor has no store.
func (floorAPI) Readyz(context.Context, api.ReadyzRequestObject) (api.ReadyzResponseObject, error) {
	return api.Readyz200JSONResponse{Status: "ok", Checks: map[string]string{}}, nil
}

// sampleResponseBody is the response ingest sends for the sample email:
// same size, same shape.
func sampleResponseBody(c email.Content) ([]byte, error) {
	key := "pgb-1-1234567890123456789"
	now := time.Now()
	return handlers.RenderEmail(email.Stored{Content: c, ID: 123456, IdempotencyKey: &key, Version: 1,
		ContentHash: c.Hash(), SyncStatus: email.StatusPending, CreatedAt: now, UpdatedAt: now})
}
