package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"mailsync/internal/audit"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
	"mailsync/internal/erasure"
	"mailsync/internal/ingest"
	"mailsync/internal/metrics"
	"mailsync/internal/mongostore/mongotest"
)

// TestShutdownKeepsItsBudgetWhenPostgresBlackHoles runs serve's background
// services on a PostgreSQL that stops answering (connections open, nothing
// comes back) while an erasure batch is in flight, and shuts them down as
// serve does: the shutdown returns when its one budget ends, naming what it
// cut off, rather than waiting for statements that will never be answered.
func TestShutdownKeepsItsBudgetWhenPostgresBlackHoles(t *testing.T) {
	t.Parallel()
	direct, url := dbtest.New(t)
	mongo, _ := mongotest.NewStore(t)
	ctx := context.Background()
	ingestFrom(t, direct, "alice@example.com", 20)
	// The relay has nothing to do until the erasure enqueues its deletes.
	_, err := direct.Exec(ctx, `UPDATE outbox_messages SET processed_at = now()`)
	require.NoError(t, err)
	cfg, err := parseConfig(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg.ReconcileInterval = 20 * time.Millisecond

	proxy, proxied := dbtest.ProxyURL(t, url)
	pool, err := pgxpool.New(ctx, proxied)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	bg := newBackground(pool, mongo, cfg, 2, true, metrics.New(prometheus.NewRegistry()))
	addr := "alice@example.com"
	_, _, err = bg.eraser.StartJob(ctx, erasure.Request{Criteria: erasure.Criteria{Address: &addr}, Key: "k",
		Fingerprint: "f", TTL: time.Hour}, audit.Actor{ClientID: "ops"})
	require.NoError(t, err)

	// The erasure batch waits for a row lock, then PostgreSQL goes silent.
	blocker, err := direct.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = blocker.Rollback(ctx) }()
	_, err = blocker.Exec(ctx, `SELECT id FROM incoming_emails WHERE id = (SELECT min(id) FROM incoming_emails) FOR UPDATE`)
	require.NoError(t, err)
	require.NoError(t, bg.start(ctx))
	dbtest.AwaitLockWait(t, direct)
	proxy.BlackHole()
	defer proxy.Restore() // before the pools close

	sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- shutdown(sctx, bg.stages(stopFunc(func(context.Context) error { return nil }))...) }()
	select {
	case err = <-done:
	case <-time.After(time.Minute): // a hang detector, not a timing assertion
		t.Fatal("the shutdown did not return after its budget ended")
	}
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "stop erasure runner: job batch in flight cut off")
}

// ingestFrom stores n emails from sender through the ingest path.
func ingestFrom(t *testing.T, pool *pgxpool.Pool, sender string, n int) {
	t.Helper()
	svc := ingest.NewService(pool, &ingest.Config{Render: func(email.Stored) ([]byte, error) { return []byte("{}"), nil }})
	var items []ingest.Item
	for i := range n {
		c := email.Content{MessageID: fmt.Sprintf("<%d@budget.test>", i), Mailbox: "support", From: sender,
			To: []string{"support@example.org"}, ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
		c.Normalize()
		items = append(items, ingest.Item{Key: fmt.Sprint("k", i), Fingerprint: fmt.Sprint(i), Content: c})
	}
	_, err := svc.Ingest(context.Background(), "test", items)
	require.NoError(t, err)
}
