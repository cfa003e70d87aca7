package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"mailsync/internal/auth"
	"mailsync/internal/db"
	"mailsync/internal/handlers"
	"mailsync/internal/ingest"
	"mailsync/internal/metrics"
	"mailsync/internal/mongostore"
	"mailsync/internal/relay"
)

// benchToken is the API key the benchmark's clients send (client "bench").
const benchToken = "bench-token-0123456789abcdef"

// database is the benchmark's own PostgreSQL database, created and migrated
// at start and dropped at the end.
type database struct {
	admin string // URL of the maintenance database
	name  string
	url   string
}

func createDatabase(ctx context.Context, adminURL, name string) (*database, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, fmt.Errorf("bad -pg-url: %w", err)
	}
	u.Path = "/" + name
	d := &database{admin: adminURL, name: name, url: u.String()}
	if err := d.adminExec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return nil, err
	}
	if err := d.adminExec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, err
	}
	if err := db.Migrate(d.url); err != nil {
		_ = d.drop()
		return nil, fmt.Errorf("migrate %s: %w", name, err)
	}
	return d, nil
}

func (d *database) adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		return fmt.Errorf("PostgreSQL at %s: %w", d.admin, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// drop drops the database, retrying for a minute while PostgreSQL is
// unreachable (it may be restarting).
func (d *database) drop() error {
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := d.adminExec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.name}.Sanitize()+" WITH (FORCE)")
		cancel()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(2 * time.Second)
	}
}

// reset empties the service's tables so every section starts from the same
// state (and a relay started later finds only that section's backlog).
func reset(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, "TRUNCATE incoming_emails, outbox_messages, idempotency_keys, email_blobs, blobs, blob_chunks, blob_counts RESTART IDENTITY")
	if err == nil {
		_, err = pool.Exec(ctx, "VACUUM ANALYZE incoming_emails, outbox_messages, idempotency_keys")
	}
	return err
}

// stack is the service as `serve` wires it: pool, ingest service, handlers,
// the real router behind a real HTTP server on 127.0.0.1:0, and (when
// workers > 0) a running relay woken after every ingest commit.
type stack struct {
	pool   *pgxpool.Pool
	relay  *relay.Relay
	srv    *http.Server
	base   string // http://127.0.0.1:port
	ingest *ingest.Service
}

func startStack(ctx context.Context, dbURL string, mongo *mongostore.Store, rcfg relay.Config) (*stack, error) {
	pool, err := db.Open(ctx, dbURL, int32(rcfg.Workers+20)) // serve's pool size
	if err != nil {
		return nil, err
	}
	s := &stack{pool: pool}
	s.relay = relay.New(pool, mongo, &rcfg)
	if rcfg.Workers > 0 {
		if err := s.relay.Start(ctx); err != nil {
			s.pool.Close()
			return nil, err
		}
	}
	s.ingest = ingest.NewService(pool, &ingest.Config{
		Render: handlers.RenderEmail, Committed: func(int) { s.relay.Notify() },
	})
	hcfg := &handlers.Config{
		Pool: pool, Reader: ingest.NewReader(pool), Ingest: s.ingest,
		Sync: relay.NewAdmin(pool, rcfg.Workers, 10, s.relay.Notify),
	}
	if mongo != nil {
		hcfg.Mongo = mongo
	}
	h := handlers.New(hcfg)
	keys, err := auth.ParseKeys("bench:" + benchToken + ":ingest+read")
	if err != nil {
		s.close()
		return nil, err
	}
	reg := prometheus.NewRegistry()              // a fresh one per stack: no duplicate registration
	reg.MustRegister(metrics.NewCollector(pool)) // as serve registers it: /metrics reads PostgreSQL
	router, err := handlers.Router(h, handlers.RouterConfig{Keys: keys, MaxBodyBytes: 26214400, Gatherer: reg, Registerer: reg})
	if err != nil {
		s.close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.close()
		return nil, err
	}
	s.base = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("bench server", "err", err)
		}
	}()
	return s, nil
}

func (s *stack) close() {
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.srv.Shutdown(ctx)
		cancel()
	}
	if s.relay != nil {
		stopRelay(s.relay)
	}
	s.pool.Close()
}

// stopRelay stops rel within the server's default SHUTDOWN_TIMEOUT and logs
// what it cut off.
func stopRelay(rel *relay.Relay) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rel.Stop(ctx); err != nil {
		slog.Warn("bench relay", "err", err)
	}
}

// newClient is an HTTP client keeping enough idle connections for conc
// concurrent requests, so every request reuses a kept-alive connection.
func newClient(conc int) *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2, DisableCompression: true,
		IdleConnTimeout: 90 * time.Second,
	}}
}

// logHandler sends warnings and errors to stderr and formats (then drops)
// the rest as JSON, so the per-request access log costs what it costs in
// production without flooding the terminal.
type logHandler struct {
	json, text slog.Handler
}

func newLogHandler() slog.Handler {
	return handlers.LogHandler(logHandler{
		json: slog.NewJSONHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelInfo}),
		text: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}),
	})
}

func (h logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.json.Enabled(ctx, l) }
func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		_ = h.text.Handle(ctx, r)
	}
	return h.json.Handle(ctx, r)
}
func (h logHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return logHandler{h.json.WithAttrs(a), h.text.WithAttrs(a)}
}
func (h logHandler) WithGroup(n string) slog.Handler {
	return logHandler{h.json.WithGroup(n), h.text.WithGroup(n)}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
