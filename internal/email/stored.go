package email

import "time"

// The sync states of an email (incoming_emails.sync_status).
const (
	StatusPending       = "pending"
	StatusSynced        = "synced"
	StatusFailed        = "failed"
	StatusNotApplicable = "not_applicable"
)

// Stored is an email as PostgreSQL holds it: the content plus identity,
// replication version and sync state.
type Stored struct {
	Content
	ID             int64
	IdempotencyKey *string // nil for emails stored without a key
	Version        int64
	ContentHash    string
	SyncStatus     string
	SyncError      *string
	SyncRetryCount int32
	SyncedAt       *time.Time // nil until the first successful sync
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// ErasedAt is set when the email was erased: the row is a tombstone,
	// its personal fields are cleared, and ErasedBy and EraseReason say who
	// erased it and why.
	ErasedAt    *time.Time
	ErasedBy    string
	EraseReason string
}

// Erased reports whether s is the tombstone of an erased email.
func (s Stored) Erased() bool { return s.ErasedAt != nil }
