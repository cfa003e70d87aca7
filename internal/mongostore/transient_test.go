package mongostore_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"mailsync/internal/mongostore"
)

func bulkError(codes ...int) error {
	var we []mongo.BulkWriteError
	for i, c := range codes {
		we = append(we, mongo.BulkWriteError{WriteError: mongo.WriteError{Index: i, Code: c, Message: "x"}})
	}
	return mongo.BulkWriteException{WriteErrors: we}
}

// TestServerCannotWorkNowIsTransient: FerretDB answers an insert with
// InternalError (code 1) while its PostgreSQL restarts. That is the
// server's state, not the document's fault: the relay must retry it later,
// not dead-letter the emails at once (the chaos run lost 97 emails to
// "failed" that way).
func TestServerCannotWorkNowIsTransient(t *testing.T) {
	require.True(t, mongostore.IsTransient(bulkError(1, 1)))
	require.True(t, mongostore.IsTransient(bulkError(11000, 91)))
	require.True(t, mongostore.IsTransient(mongo.CommandError{Code: 189, Message: "stepped down"}))
	require.False(t, mongostore.IsTransient(bulkError(11000)), "a duplicate key is an existing document")
	require.False(t, mongostore.IsTransient(bulkError(2)), "BadValue refuses the document")
	require.False(t, mongostore.IsTransient(bulkError(10334)), "a document over the size limit is refused")
	require.False(t, mongostore.IsTransient(errors.New("other")))
}

// TestIndexRowTooLargeIsNotTransient: FerretDB reports a document whose
// index entry PostgreSQL cannot hold as InternalError (code 1), the code it
// also uses during an outage. The message names the document's limit, so
// the error is the document's; a bare InternalError stays transient.
func TestIndexRowTooLargeIsNotTransient(t *testing.T) {
	msg := "ERROR: index row size 2712 exceeds btree version 4 maximum 2704 for index \"x\" (SQLSTATE 54000)"
	require.False(t, mongostore.IsTransient(mongo.CommandError{Code: 1, Message: msg}))
	require.False(t, mongostore.IsTransient(mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{
		{WriteError: mongo.WriteError{Index: 0, Code: 1, Message: msg}}}}))
	require.True(t, mongostore.IsTransient(mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{
		{WriteError: mongo.WriteError{Index: 0, Code: 1, Message: msg}},
		{WriteError: mongo.WriteError{Index: 1, Code: 1, Message: "connection refused"}}}}),
		"a real outage beside it stays transient")
	require.True(t, mongostore.IsTransient(mongo.CommandError{Code: 1, Message: "connection refused"}))
}
