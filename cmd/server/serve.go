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
	"mailsync/internal/erasure"
	"mailsync/internal/handlers"
	"mailsync/internal/ingest"
	"mailsync/internal/maintenance"
	"mailsync/internal/metrics"
	"mailsync/internal/mongostore"
	"mailsync/internal/reconcile"
	"mailsync/internal/relay"
)

func serve(ctx context.Context, cfg config, args []string) error {
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

	reg := prometheus.DefaultRegisterer
	m := metrics.New(reg)
	reg.MustRegister(metrics.NewCollector(pool))
	workers := cfg.RelayWorkers
	if *role == "api" {
		workers = 0
	}
	rel := relay.New(pool, mongo, &relay.Config{
		Workers: workers, BatchSize: cfg.RelayBatchSize, MaxRetries: int32(cfg.RelayMaxRetries), Metrics: m,
		ShutdownTimeout: cfg.ShutdownTimeout, // bounds rel.Stop
	})
	cleaner := maintenance.New(pool, &maintenance.Config{
		OutboxRetention: cfg.OutboxRetention, ReportRetention: cfg.ReportRetention, Metrics: m,
		EmailRetention: cfg.EmailRetention, MaxRetries: int32(cfg.RelayMaxRetries), Wake: rel.Notify})
	cleaner.Start(ctx)
	defer cleaner.Stop()
	// Erasure jobs run on every instance (leases share them out).
	eraser := erasure.New(pool, &erasure.Config{MaxRetries: int32(cfg.RelayMaxRetries), Wake: rel.Notify})
	eraser.Start(ctx)
	defer eraser.Stop()
	// Started even with no workers (role api): it also sends the debounced
	// NOTIFY that wakes the other instances' relays after an ingest commit.
	rel.Start(ctx)
	defer rel.Stop()

	// Big emails leave freed memory behind; give it back after bursts.
	go releaseMemory(ctx, 5*time.Second, 32<<20)

	if *role == "relay" {
		slog.Info("relay running", "workers", workers)
		<-ctx.Done()
		return nil
	}
	// Reconciliation: scheduled runs (RECONCILE_INTERVAL; one at a
	// time across instances) and POST /v1/reconciliations.
	wakeRelays := rel.Notify
	if workers == 0 {
		wakeRelays = notifyRelays(pool)
	}
	rec := reconcile.New(pool, mongo, reconcileConfig(cfg, wakeRelays))
	rec.Start(ctx)
	defer rec.Stop()
	h := handlers.New(&handlers.Config{
		Pool: pool, Mongo: mongo, Reader: ingest.NewReader(pool), Reconciler: rec,
		Erasure: eraser, IdempotencyTTL: cfg.IdempotencyTTL,
		Sync: relay.NewAdmin(pool, workers, int32(cfg.RelayMaxRetries), rel.Notify),
		Ingest: ingest.NewService(pool, &ingest.Config{
			IdempotencyTTL: cfg.IdempotencyTTL, MaxRetries: int32(cfg.RelayMaxRetries),
			Render: handlers.RenderEmail, Committed: func(int) { rel.Notify() }, Metrics: m,
		}),
	})
	router, err := handlers.Router(h, handlers.RouterConfig{Keys: keys, MaxBodyBytes: cfg.MaxBodyBytes,
		MaxInflightBodyBytes: cfg.MaxInflightBodyBytes, RequestTimeout: cfg.RequestTimeout,
		RateLimit: handlers.RateLimit{RPS: cfg.RateLimitRPS, Burst: cfg.RateLimitBurst}})
	if err != nil {
		return err
	}
	return listenAndServe(ctx, cfg, router)
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

// listenAndServe serves until ctx ends, then drains in-flight requests.
func listenAndServe(ctx context.Context, cfg config, h http.Handler) error {
	srv := handlers.NewServer(h, handlers.ServerConfig{
		MaxConnections: cfg.MaxConnections, ReadTimeout: cfg.HTTPReadTimeout, IdleTimeout: cfg.HTTPIdleTimeout,
		BaseContext: context.WithoutCancel(ctx), Registerer: prometheus.DefaultRegisterer,
	})
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	slog.Info("serving", "addr", ln.Addr().String(), "max_connections", cfg.MaxConnections)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}
