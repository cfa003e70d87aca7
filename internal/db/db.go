// Package db opens the PostgreSQL pool, runs the embedded migrations, wraps
// transactions, and gives tests a migrated database of their own.
package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/tracing"
)

// DefaultConnectTimeout bounds opening one PostgreSQL connection when the
// URL sets no connect_timeout, so an unreachable server fails fast.
const DefaultConnectTimeout = 3 * time.Second

// Options tune Open. Zero values take the defaults.
type Options struct {
	// MaxConns is the pool size (pgxpool's default when 0).
	MaxConns int32
	// ConnectTimeout bounds opening a connection (DefaultConnectTimeout);
	// a connect_timeout in the URL wins.
	ConnectTimeout time.Duration
}

// Open connects a pool to url and pings it. lock_timeout bounds how long any
// statement waits for a row lock held by another transaction (for example a
// duplicate idempotency key still in flight), so no request hangs forever.
// It returns an error naming the server when PostgreSQL is unreachable.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	return OpenWith(ctx, url, Options{MaxConns: maxConns})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, url string, o Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("bad DATABASE_URL: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
		if o.ConnectTimeout > 0 {
			cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
		}
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["lock_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["lock_timeout"] = "10s"
	}
	releaseBigBuffers(cfg) // a connection that moved a big email is closed on release
	if t := tracing.PgxTracer(); t != nil {
		cfg.ConnConfig.Tracer = t // statements inside a span are traced
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL at %s: %w", cfg.ConnConfig.Host, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("PostgreSQL unreachable at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return pool, nil
}

// Beginner is what InTx needs: a pool or a connection.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// IsLockTimeout reports whether err is PostgreSQL's lock_not_available, which
// lock_timeout raises.
func IsLockTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03"
}

// SnapshotBeginner is what InSnapshot needs: a pool or a connection.
type SnapshotBeginner interface {
	BeginTx(ctx context.Context, o pgx.TxOptions) (pgx.Tx, error)
}

// InSnapshot runs fn in a read-only REPEATABLE READ transaction, so that
// every statement fn runs sees the same snapshot of the database, and
// returns fn's error (or the error of beginning).
func InSnapshot(ctx context.Context, b SnapshotBeginner, fn func(q *Queries) error) error {
	tx, err := b.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin snapshot: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	return fn(New(tx))
}
