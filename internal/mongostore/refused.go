package mongostore

import (
	"errors"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// isDocumentLimit reports whether msg is the InternalError FerretDB raises
// for one document PostgreSQL cannot index: "index row size N exceeds
// btree version 4 maximum 2704" (an index entry over the btree row limit,
// e.g. a message_id of about 1,000 multibyte characters). The error is the
// document's, not the store's: retrying it cannot help.
func isDocumentLimit(msg string) bool {
	return strings.Contains(msg, "index row size") && strings.Contains(msg, "exceeds btree")
}

// refusesDocument reports whether err is the server refusing a document
// for its content although its code (InternalError) would otherwise say
// the server could not work now. For a bulk write, every write error must
// be such a refusal or a non-transient error.
func refusesDocument(err error) bool {
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) {
		if bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
			return false
		}
		found := false
		for _, we := range bwe.WriteErrors {
			switch {
			case isDocumentLimit(we.Message):
				found = true
			case isTransientCode(we.Code):
				return false
			}
		}
		return found
	}
	var we mongo.WriteException
	if errors.As(err, &we) {
		if we.WriteConcernError != nil || len(we.WriteErrors) == 0 {
			return false
		}
		for _, e := range we.WriteErrors {
			if !isDocumentLimit(e.Message) {
				return false
			}
		}
		return true
	}
	var ce mongo.CommandError
	return errors.As(err, &ce) && isDocumentLimit(ce.Message)
}

func isTransientCode(code int) bool {
	for _, c := range transientCodes {
		if c == code {
			return true
		}
	}
	return false
}
