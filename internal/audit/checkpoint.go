package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/db"
	"mailsync/internal/lifecycle"
)

// CheckpointConfig tunes a Checkpointer; zero fields take defaults.
type CheckpointConfig struct {
	// Key signs the checkpoints. Required.
	Key Key
	// Interval is the time between checkpoints (AUDIT_CHECKPOINT_INTERVAL,
	// 1h).
	Interval time.Duration
	// Now is the clock written into the checkpoints (time.Now).
	Now func() time.Time
}

// Checkpointer signs the chain's head at an interval and stores the
// signed note in audit_checkpoints.
type Checkpointer struct {
	pool *pgxpool.Pool
	cfg  CheckpointConfig
	life *lifecycle.Group
}

// NewCheckpointer returns a Checkpointer with cfg's defaults filled in.
func NewCheckpointer(pool *pgxpool.Pool, cfg *CheckpointConfig) *Checkpointer {
	c := *cfg
	if c.Interval <= 0 {
		c.Interval = time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Checkpointer{pool: pool, cfg: c, life: lifecycle.NewGroup("audit checkpointer", "checkpoint in flight")}
}

// Start writes a checkpoint at once and then every Interval, until Stop or
// until ctx ends. Every instance may run one: a head already checkpointed
// is not signed again. It returns an error when the checkpointer was
// started or stopped before, or has no pool or key.
func (c *Checkpointer) Start(ctx context.Context) error {
	if c.pool == nil || c.cfg.Key.Signer == nil {
		return errors.New("start audit checkpointer: a PostgreSQL pool and a signing key are required")
	}
	if err := c.life.Start(ctx); err != nil {
		return err
	}
	loop := &lifecycle.Loop{Name: "audit checkpoint", Interval: c.cfg.Interval, Timeout: time.Minute, Immediate: true,
		Pass: func(_, ctx context.Context) error {
			_, err := c.Checkpoint(ctx)
			return err
		}}
	c.life.Go(loop.Run)
	return nil
}

// Stop stops writing checkpoints and waits, while ctx lasts, for the one
// in flight. It is idempotent; a Stop before Start returns nil.
func (c *Checkpointer) Stop(ctx context.Context) error { return c.life.Stop(ctx) }

// Checkpoint signs the chain's head now and stores the note, holding the
// chain's lock meanwhile (events wait the few milliseconds it takes). It
// returns the new checkpoint, or nil when the chain is empty or its head is
// the newest checkpoint's already.
func (c *Checkpointer) Checkpoint(ctx context.Context) (*db.AuditCheckpoint, error) {
	var out *db.AuditCheckpoint
	err := db.InTx(ctx, c.pool, func(q *db.Queries) error {
		seq, hash, err := q.LockAuditChainHead(ctx)
		if err != nil || seq == 0 {
			return err
		}
		last, err := q.LatestAuditCheckpoint(ctx)
		if err != nil || (last != nil && last.Seq == seq && bytes.Equal(last.Hash, hash)) {
			return err
		}
		s := Statement{Seq: seq, Hash: hash, At: c.cfg.Now().UTC().Truncate(time.Microsecond)}
		text, err := SignStatement(s, c.cfg.Key.Signer)
		if err != nil {
			return err
		}
		cp, err := q.InsertAuditCheckpoint(ctx, db.AuditCheckpoint{Seq: seq, Hash: hash, At: s.At,
			KeyName: c.cfg.Key.Signer.Name(), Note: text})
		out = &cp
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint: %w", err)
	}
	if out != nil {
		slog.Info("audit checkpoint signed", "seq", out.Seq, "checkpoint", out.ID)
	}
	return out, nil
}
