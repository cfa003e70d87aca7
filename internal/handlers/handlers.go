// Package handlers implements the generated strict server interface of
// api/openapi.yaml on top of the ingest, relay and reconcile services. It
// holds no SQL: it decodes, calls a service, and encodes.
package handlers

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/api"
	"mailsync/internal/blob"
	"mailsync/internal/erasure"
	"mailsync/internal/ingest"
	"mailsync/internal/reconcile"
	"mailsync/internal/relay"
)

var _ api.StrictServerInterface = (*Handlers)(nil)

// Pinger is a dependency /readyz checks.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Config holds the Handlers' dependencies. Pool and Ingest are required;
// Mongo is pinged by /readyz when set.
type Config struct {
	Pool   *pgxpool.Pool
	Ingest *ingest.Service
	Reader *ingest.Reader
	// Blobs serves raw messages and attachments (a blob.Reader on Pool when nil).
	Blobs *blob.Reader
	Mongo Pinger
	Sync  *relay.Admin
	// Reconciler serves /v1/reconciliations (501 when nil).
	Reconciler *reconcile.Reconciler
	// Erasure serves DELETE /v1/emails/{id} and /v1/erasures. Required.
	Erasure *erasure.Service
	// IdempotencyTTL is how long a POST /v1/erasures key replays (24h).
	IdempotencyTTL time.Duration
	// Now is the clock used for raw messages without a Date (time.Now).
	Now func() time.Time
	// Checks are more /readyz checks by name (the LMTP listener), reported
	// next to the stores with the error of a failed one.
	Checks map[string]Pinger
	// Auth says which sender-authentication verdicts raw messages record
	// (nil: none).
	Auth *ingest.AuthConfig
}

// Handlers is the one type implementing api.StrictServerInterface.
type Handlers struct {
	cfg Config
}

// New returns Handlers over cfg.
func New(cfg *Config) *Handlers {
	c := *cfg
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Blobs == nil && c.Pool != nil {
		c.Blobs = blob.NewReader(c.Pool)
	}
	if c.IdempotencyTTL <= 0 {
		c.IdempotencyTTL = 24 * time.Hour
	}
	return &Handlers{cfg: c}
}
