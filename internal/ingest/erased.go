package ingest

import (
	"net/http"

	"mailsync/internal/apperr"
	"mailsync/internal/db"
)

// The erasure hook of the write path: a request whose Idempotency-Key
// stored an email that has since been erased is answered 410 Gone, whatever
// its body, and never stores a new email. Erasure sets the key record's
// response_status to 410 (and purges its body); once that record expired,
// the tombstone still holds the key.

// keyErased reports whether k's email was erased.
func keyErased(k db.IdempotencyKey) bool { return k.ResponseStatus == http.StatusGone }

func goneResult() Result {
	return Result{Status: http.StatusGone, Err: apperr.New(apperr.Gone,
		"the email stored with this Idempotency-Key was erased; it is not stored again")}
}
