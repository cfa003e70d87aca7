package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"mailsync/internal/apperr"
	"mailsync/internal/db/gen"
)

// Conn is what Queries runs on: a pool, a connection or a transaction.
type Conn interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}

// Queries is every statement mailsync runs, with domain types in and out.
// sqlc's generated code is its implementation and never leaves this
// package. Each error names the statement that failed ("claim outbox: …"),
// and a missing row is an apperr NotFound naming what was asked for.
type Queries struct {
	g  *gen.Queries
	tx *pipeTx // the transaction of InPipelinedTx, if any
}

// New returns the Queries that run on c.
func New(c Conn) *Queries { return &Queries{g: gen.New(c)} }

// InTx runs fn in a transaction and commits when fn returns nil; otherwise it
// rolls back and returns fn's error. A failed commit is returned as well, and
// then nothing fn wrote is stored.
func InTx(ctx context.Context, b Beginner, fn func(q *Queries) error) error {
	tx, err := b.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(New(tx)); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// wrap names the statement op in err; nil stays nil.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}

// found maps a missing row to an apperr NotFound naming what and id, and
// names op in every other error.
func found(op string, err error, what string, id any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.New(apperr.NotFound, "%s %v not found", what, id)
	}
	return wrap(op, err)
}

// page trims rows, read with a limit of limit+1 to learn whether more
// follow, to limit, and returns with them the keyset cursor of the next
// page: the id of the last row kept, or nil on the last page.
func page[R any](rows []R, limit int32, id func(R) int64) ([]R, *int64) {
	if len(rows) <= int(limit) {
		return rows, nil
	}
	rows = rows[:limit]
	next := id(rows[len(rows)-1])
	return rows, &next
}
