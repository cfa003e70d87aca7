package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailsync/internal/auth"
	"mailsync/internal/db"
	"mailsync/internal/handlers"
	"mailsync/internal/ingest"
	"mailsync/internal/metrics"
	"mailsync/internal/mongostore"
	"mailsync/internal/relay"
)

func serve(ctx context.Context, cfg config, args []string) (err error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	role := fs.String("role", "all", "all, api (HTTP only) or relay (workers only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *role != "all" && *role != "api" && *role != "relay" {
		return fmt.Errorf("--role must be all, api or relay")
	}
	keys, err := loadKeys(cfg)
	if err != nil {
		return err
	}

	pool, err := db.OpenWith(ctx, cfg.DatabaseURL, db.Options{
		MaxConns: int32(cfg.RelayWorkers + 20), ConnectTimeout: cfg.DBConnectTimeout})
	if err != nil {
		return err
	}
	defer pool.Close()
	mongo, err := mongostore.Connect(ctx, cfg.MongoURL, cfg.MongoDB, 5*time.Second)
	if err != nil {
		return err
	}
	defer mongo.Close(context.WithoutCancel(ctx))
	if err := mongo.EnsureIndexes(ctx); err != nil {
		return fmt.Errorf("create MongoDB indexes: %w", err)
	}

	reg := metrics.Once(prometheus.DefaultRegisterer)
	m := metrics.New(reg)
	reg.MustRegister(metrics.NewCollector(pool))
	workers := cfg.RelayWorkers
	if *role == "api" {
		workers = 0
	}
	bg := newBackground(pool, mongo, cfg, workers, *role != "relay", m)
	if err := bg.withCheckpoints(pool, cfg); err != nil {
		return err
	}
	// Shutdown begins when ctx ends (or serving fails) and has one
	// SHUTDOWN_TIMEOUT for all of it, in this order (background.stages):
	// HTTP and the LMTP listener stop accepting and finish their requests
	// and transactions → the reconciler, the
	// erasure runner and the retention cleaner stop claiming and finish
	// their work in flight → the relay does the same, its notifier sending
	// the last NOTIFY → the MongoDB client and the PostgreSQL pool close
	// (deferred above). What is still in flight when the time is up is cut
	// off, later stages at once, and serve returns errors naming it. The
	// services run on a context the signal does not cancel, so that each
	// goes on working until its turn.
	var front []stopper // the LMTP listener and the HTTP server, once they serve
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		err = errors.Join(err, shutdown(sctx, bg.stages(front...)...))
	}()
	if err := bg.start(context.WithoutCancel(ctx)); err != nil {
		return err
	}

	// Big emails leave freed memory behind; give it back after bursts.
	go releaseMemory(ctx, 5*time.Second, 32<<20)

	if *role == "relay" {
		slog.Info("relay running", "workers", workers)
		<-ctx.Done()
		return nil
	}
	ing := ingest.NewService(pool, &ingest.Config{
		IdempotencyTTL: cfg.IdempotencyTTL, MaxRetries: int32(cfg.RelayMaxRetries),
		Render: handlers.RenderEmail, Committed: func(int) { bg.rel.Notify() }, Metrics: m,
		QueueBytes: cfg.MaxInflightBodyBytes, // the queue holds as many body bytes as are read at once
	})
	// The LMTP listener is a front door like HTTP: it stops with it.
	// One bound on the message bodies in memory, for HTTP and LMTP.
	bodies := ingest.NewBodies(cfg.MaxInflightBodyBytes, reg)
	lm, err := startLMTP(context.WithoutCancel(ctx), cfg, ing, bodies, reg)
	if lm != nil {
		front = append(front, lm)
	}
	if err != nil {
		return err
	}
	checks := map[string]handlers.Pinger{}
	if lm != nil {
		checks["lmtp"] = lm
	}
	h := handlers.New(&handlers.Config{
		Pool: pool, Mongo: mongo, Reader: ingest.NewReader(pool), Reconciler: bg.rec,
		Erasure: bg.eraser, IdempotencyTTL: cfg.IdempotencyTTL,
		Auth:   &ingest.AuthConfig{TrustedAuthservIDs: cfg.TrustedAuthservIDs, DKIMVerify: cfg.DKIMVerify},
		Sync:   relay.NewAdmin(pool, workers, int32(cfg.RelayMaxRetries), bg.rel.Notify),
		Ingest: ing, Checks: checks,
	})
	router, err := handlers.Router(h, handlers.RouterConfig{Keys: keys, MaxBodyBytes: cfg.MaxBodyBytes,
		MaxInflightBodyBytes: cfg.MaxInflightBodyBytes, Bodies: bodies, RequestTimeout: cfg.RequestTimeout, Registerer: reg,
		RateLimit: handlers.RateLimit{RPS: cfg.RateLimitRPS, Burst: cfg.RateLimitBurst}})
	if err != nil {
		return err
	}
	srv, served, err := listen(ctx, cfg, router)
	if err != nil {
		return err
	}
	front = append(front, srv)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		slog.Info("shutting down")
		return nil
	}
}

func loadKeys(cfg config) (*auth.Keys, error) {
	keys, err := auth.ParseKeys(cfg.APIKeys)
	if err != nil {
		return nil, err
	}
	if keys.Len() == 0 {
		if !cfg.AuthDisabled {
			return nil, errors.New("no API_KEYS configured; set API_KEYS=name:token:scope+scope, or AUTH_DISABLED=true to run without authentication")
		}
		slog.Warn("authentication disabled (AUTH_DISABLED=true): every request is the anonymous client with every scope")
		return nil, nil
	}
	return keys, nil
}

// listen starts serving h on HTTP_ADDR. The error of serving comes on
// served; the returned stopper shuts the server down.
func listen(ctx context.Context, cfg config, h http.Handler) (stopper, <-chan error, error) {
	srv := handlers.NewServer(h, handlers.ServerConfig{
		MaxConnections: cfg.MaxConnections, MaxConnectionsPerAddress: cfg.MaxConnectionsPerAddr,
		RequestLineTimeout: cfg.HTTPRequestLineTimeout, ReadTimeout: cfg.HTTPReadTimeout, IdleTimeout: cfg.HTTPIdleTimeout,
		BaseContext: context.WithoutCancel(ctx), Registerer: metrics.Once(prometheus.DefaultRegisterer),
	})
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	slog.Info("serving", "addr", ln.Addr().String(), "max_connections", cfg.MaxConnections)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	return stopFunc(func(ctx context.Context) error {
		if err := srv.Shutdown(ctx); err != nil {
			return fmt.Errorf("stop HTTP server: %w", err)
		}
		return nil
	}), served, nil
}
