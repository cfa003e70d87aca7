package db

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"mailsync/internal/db/gen"
)

// AuditChainState is the chain's bookkeeping (the audit_chain row): its
// newest row and the last row removed by retention (0 and 32 zero bytes
// when none).
type AuditChainState struct {
	HeadSeq    int64
	HeadHash   []byte
	PrunedSeq  int64
	PrunedHash []byte
}

// AuditChainState reads the chain's bookkeeping. Errors are named "read
// audit chain state".
func (q *Queries) AuditChainState(ctx context.Context) (AuditChainState, error) {
	r, err := q.g.AuditChainState(ctx)
	if err != nil {
		return AuditChainState{}, wrap("read audit chain state", err)
	}
	return AuditChainState{HeadSeq: r.HeadSeq, HeadHash: r.HeadHash, PrunedSeq: r.PrunedSeq, PrunedHash: r.PrunedHash}, nil
}

// ChainedAuditEvent is an audit_events row as the chain covers it: the
// details as PostgreSQL's canonical jsonb text (what DetailsHash is the
// SHA-256 of) and the stored hashes.
type ChainedAuditEvent struct {
	ID          int64
	Seq         int64
	At          time.Time
	ClientID    string
	Action      string
	Target      string
	RequestID   string
	DetailsText string
	DetailsHash []byte
	PrevHash    []byte
	Hash        []byte
}

// AuditChainPage returns up to limit rows after (afterSeq, afterID) in
// chain order (seq, then id). Errors are named "read audit chain".
func (q *Queries) AuditChainPage(ctx context.Context, afterSeq, afterID int64, limit int32) ([]ChainedAuditEvent, error) {
	rows, err := q.g.AuditChainPage(ctx, gen.AuditChainPageParams{AfterSeq: afterSeq, AfterID: afterID, RowLimit: limit})
	if err != nil {
		return nil, wrap("read audit chain", err)
	}
	out := make([]ChainedAuditEvent, len(rows))
	for i, r := range rows {
		out[i] = ChainedAuditEvent(r)
	}
	return out, nil
}

// PruneAuditEvents removes the oldest events written before before, up to
// limit of them, as a prefix of the chain: it stops at the first event
// that is not older. The seq and hash of the last event removed stay in
// the chain's bookkeeping, so verification continues from there. It
// returns how many events it removed. Run it in a transaction. Errors are
// named "prune audit events".
func (q *Queries) PruneAuditEvents(ctx context.Context, before time.Time, limit int32) (int64, error) {
	if _, err := q.g.AdvanceAuditPrune(ctx, gen.AdvanceAuditPruneParams{RowLimit: limit, Before: before}); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil
		}
		return 0, wrap("prune audit events", err)
	}
	n, err := q.g.DeletePrunedAuditEvents(ctx)
	return n, wrap("prune audit events", err)
}

// LockAuditChainHead returns the chain's newest seq and hash and holds the
// chain's lock until q's transaction ends: no event is appended meanwhile.
// Errors are named "lock audit chain".
func (q *Queries) LockAuditChainHead(ctx context.Context) (seq int64, hash []byte, err error) {
	r, err := q.g.LockAuditChainHead(ctx)
	if err != nil {
		return 0, nil, wrap("lock audit chain", err)
	}
	return r.HeadSeq, r.HeadHash, nil
}
