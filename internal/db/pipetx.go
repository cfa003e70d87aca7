package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// InPipelinedTx runs fn in a transaction as InTx does, in two round trips
// fewer: BEGIN travels with fn's first batch of statements, and COMMIT with
// the batch fn sends right after calling q.CommitWithNextBatch (or alone,
// after fn returned nil, when it sent none). A transaction whose fn sent
// nothing sends nothing. fn must return the error of that last batch, if
// any: when its statements fail, nothing is committed and the transaction
// is rolled back; when only its COMMIT fails, InPipelinedTx returns that
// error ("commit: …") and nothing fn wrote is stored.
func InPipelinedTx(ctx context.Context, pool *pgxpool.Pool, fn func(q *Queries) error) error {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer c.Release() // a connection left in a transaction is destroyed, not reused
	t := &pipeTx{conn: c.Conn()}
	q := New(t)
	q.tx = t
	err = fn(q)
	if t.open != nil { // results fn left unread
		_ = t.open.Close()
	}
	switch {
	case err != nil || t.commitErr != nil:
		if t.begun && !t.committed {
			_, _ = t.conn.Exec(context.WithoutCancel(ctx), "rollback")
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("commit: %w", t.commitErr)
	case t.committed || !t.begun:
		return nil
	}
	if _, err := t.conn.Exec(ctx, "commit"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// CommitWithNextBatch makes the next batch of statements sent by a
// transaction of InPipelinedTx end with COMMIT, in the same round trip.
// Elsewhere it does nothing.
func (q *Queries) CommitWithNextBatch() {
	if q.tx != nil {
		q.tx.commitNext = true
	}
}

// pipeTx is the Conn of InPipelinedTx: one connection whose transaction is
// opened by the first statement sent.
type pipeTx struct {
	conn       *pgx.Conn
	begun      bool // BEGIN was sent
	commitNext bool // the next batch ends with COMMIT
	committed  bool // a batch ending with COMMIT succeeded
	commitErr  error
	open       *pipeResults // the last batch's results, until closed
}

// begin sends BEGIN alone, before a statement that is not a batch.
func (t *pipeTx) begin(ctx context.Context) error {
	if t.begun {
		return nil
	}
	t.begun = true
	if _, err := t.conn.Exec(ctx, "begin"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return nil
}

func (t *pipeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := t.begin(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return t.conn.Exec(ctx, sql, args...)
}

func (t *pipeTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return t.conn.Query(ctx, sql, args...)
}

func (t *pipeTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := t.begin(ctx); err != nil {
		return errRow{err}
	}
	return t.conn.QueryRow(ctx, sql, args...)
}

// SendBatch sends b, preceded by BEGIN when it opens the transaction and
// followed by COMMIT when CommitWithNextBatch asked for it.
func (t *pipeTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	out := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(b.QueuedQueries)+2)}
	opens := !t.begun
	if opens {
		out.Queue("begin")
	}
	out.QueuedQueries = append(out.QueuedQueries, b.QueuedQueries...)
	r := &pipeResults{t: t, commits: t.commitNext}
	if r.commits {
		out.Queue("commit")
	}
	t.begun, t.commitNext = true, false
	r.BatchResults = t.conn.SendBatch(ctx, out)
	if opens {
		_, _ = r.BatchResults.Exec() // a failed BEGIN fails every statement after it
	}
	t.open = r
	return r
}

// pipeResults are the results of one batch of a pipeTx; the BEGIN before
// it has been read, and the COMMIT after it, if any, is read by Close.
type pipeResults struct {
	pgx.BatchResults
	t       *pipeTx
	commits bool
	closed  bool
}

func (r *pipeResults) Close() error {
	err := r.BatchResults.Close()
	if !r.closed {
		r.closed = true
		if r.t.open == r {
			r.t.open = nil
		}
		if r.commits {
			r.t.committed, r.t.commitErr = err == nil, err
		}
	}
	return err
}

// errRow is a row whose statement could not be sent.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
