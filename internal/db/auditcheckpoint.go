package db

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"mailsync/internal/db/gen"
)

// AuditCheckpoint is a signed statement of the audit chain's head (an
// audit_checkpoints row). Note is the signed note as text; Seq and Hash
// repeat what it states, for queries.
type AuditCheckpoint struct {
	ID      int64
	Seq     int64
	Hash    []byte
	At      time.Time
	KeyName string
	Note    string
}

func checkpointOf(r gen.AuditCheckpoint) AuditCheckpoint {
	return AuditCheckpoint{ID: r.ID, Seq: r.Seq, Hash: r.Hash, At: r.At, KeyName: r.KeyName, Note: r.Note}
}

// LatestAuditCheckpoint returns the newest checkpoint, or nil when there is
// none. Errors are named "latest audit checkpoint".
func (q *Queries) LatestAuditCheckpoint(ctx context.Context) (*AuditCheckpoint, error) {
	r, err := q.g.LatestAuditCheckpoint(ctx)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("latest audit checkpoint", err)
	}
	c := checkpointOf(r)
	return &c, nil
}

// InsertAuditCheckpoint stores c (its ID is ignored) and returns it as
// stored. Errors are named "insert audit checkpoint".
func (q *Queries) InsertAuditCheckpoint(ctx context.Context, c AuditCheckpoint) (AuditCheckpoint, error) {
	r, err := q.g.InsertAuditCheckpoint(ctx, gen.InsertAuditCheckpointParams{
		Seq: c.Seq, Hash: c.Hash, At: c.At, KeyName: c.KeyName, Note: c.Note})
	if err != nil {
		return AuditCheckpoint{}, wrap("insert audit checkpoint", err)
	}
	return checkpointOf(r), nil
}

// ListAuditCheckpoints returns up to limit checkpoints with ids below
// beforeID (all when nil), newest first, and the cursor of the next page
// (nil on the last page). Errors are named "list audit checkpoints".
func (q *Queries) ListAuditCheckpoints(ctx context.Context, beforeID *int64, limit int32) ([]AuditCheckpoint, *int64, error) {
	rows, err := q.g.ListAuditCheckpoints(ctx, gen.ListAuditCheckpointsParams{BeforeID: beforeID, RowLimit: limit + 1})
	if err != nil {
		return nil, nil, wrap("list audit checkpoints", err)
	}
	rows, next := page(rows, limit, func(r gen.AuditCheckpoint) int64 { return r.ID })
	out := make([]AuditCheckpoint, len(rows))
	for i, r := range rows {
		out[i] = checkpointOf(r)
	}
	return out, next, nil
}
