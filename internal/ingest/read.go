package ingest

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/db"
	"mailsync/internal/email"
)

// Reader reads stored emails.
type Reader struct{ q *db.Queries }

// NewReader returns a Reader on pool.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{q: db.New(pool)} }

// Get returns email id, or an apperr NotFound.
func (r *Reader) Get(ctx context.Context, id int64) (email.Stored, error) {
	return r.q.GetEmail(ctx, id)
}

// Filter selects emails for List; nil fields do not filter.
type Filter = db.EmailFilter

// List returns up to f.Limit emails, newest first, and the cursor of the
// next page (nil on the last page).
func (r *Reader) List(ctx context.Context, f Filter) ([]email.Stored, *int64, error) {
	return r.q.ListEmails(ctx, f)
}
