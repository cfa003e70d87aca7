package ingest

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/db"
	"mailsync/internal/db/gen"
	"mailsync/internal/email"
)

// Reader reads stored emails.
type Reader struct{ q *gen.Queries }

// NewReader returns a Reader on pool.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{q: gen.New(pool)} }

// Get returns email id, or an apperr NotFound.
func (r *Reader) Get(ctx context.Context, id int64) (email.Stored, error) {
	row, err := r.q.GetEmail(ctx, id)
	if err != nil {
		return email.Stored{}, db.NotFound(err, "email", id)
	}
	return db.EmailFromRow(row)
}

// Filter selects emails for List; nil fields do not filter.
type Filter struct {
	SyncStatus, Mailbox, MessageID, IdempotencyKey *string
	Incomplete                                     *bool
	Label                                          *string    // emails carrying this label
	ReceivedAfter, ReceivedBefore                  *time.Time // [after, before)
	BeforeID                                       *int64     // keyset cursor
	Limit                                          int32
}

// List returns up to f.Limit emails, newest first, and the cursor of the
// next page (nil on the last page).
func (r *Reader) List(ctx context.Context, f Filter) ([]email.Stored, *int64, error) {
	rows, err := r.q.ListEmails(ctx, gen.ListEmailsParams{
		SyncStatus: f.SyncStatus, Mailbox: f.Mailbox, MessageID: f.MessageID,
		IdempotencyKey: f.IdempotencyKey, ReceivedAfter: f.ReceivedAfter,
		ReceivedBefore: f.ReceivedBefore, Incomplete: f.Incomplete, BeforeID: f.BeforeID, RowLimit: f.Limit + 1, Label: f.Label,
	})
	if err != nil {
		return nil, nil, err
	}
	var next *int64
	if len(rows) > int(f.Limit) {
		rows = rows[:f.Limit]
		next = &rows[len(rows)-1].ID
	}
	out, err := db.EmailsFromRows(rows)
	return out, next, err
}
