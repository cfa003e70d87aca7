package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"mailsync/internal/tracing"
)

// Store is the emails collection of one MongoDB database.
type Store struct {
	client *mongo.Client
	coll   *mongo.Collection
}

// Connect opens a client on url, pings it and returns the store of database
// dbName. It fails with an error naming the URL's host when MongoDB does
// not answer within timeout.
func Connect(ctx context.Context, url, dbName string, timeout time.Duration) (*Store, error) {
	opts := options.Client().ApplyURI(url).SetServerSelectionTimeout(timeout).SetConnectTimeout(timeout)
	if m := tracing.MongoMonitor(); m != nil {
		opts.SetMonitor(m) // commands inside a span are traced
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("bad MONGO_URL: %w", err)
	}
	s := &Store{client: client, coll: client.Database(dbName).Collection(Collection)}
	if err := s.Ping(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("MongoDB unreachable at %v: %w", opts.Hosts, err)
	}
	return s, nil
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error { return s.client.Ping(ctx, readpref.Primary()) }

// Close disconnects the client.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Coll is the underlying collection (for tests and the reconciler).
func (s *Store) Coll() *mongo.Collection { return s.coll }

// EnsureIndexes creates the collection's secondary indexes (idempotent).
// One index per command: FerretDB v1.24.2 drops the connection (a panic in
// its createIndexes) when one command names several indexes that all exist
// already, which made every start after the first fail.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	for _, m := range []mongo.IndexModel{
		{Keys: bson.D{{Key: "message_id", Value: 1}}},
		{Keys: bson.D{{Key: "mailbox", Value: 1}, {Key: "received_at", Value: 1}}},
	} {
		if _, err := s.coll.Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("mongodb create index %v: %w", m.Keys, err)
		}
	}
	return s.EnsureBlobIndexes(ctx)
}

// transientCodes are server error codes that say the server could not do
// the work now, not that a document is wrong: InternalError (FerretDB's
// answer while its PostgreSQL is restarting), host and network errors,
// shutdown, time limits and replica-set elections.
var transientCodes = []int{1, 6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436}

// IsTransient reports whether err means MongoDB could not be reached, did
// not answer in time or could not do the work now, rather than refusing a
// document: the write may be retried later without blaming the email. An
// InternalError that names a limit of the document itself (an index entry
// too large for PostgreSQL) is the document's fault, so not transient.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if refusesDocument(err) {
		return false
	}
	var se mongo.ServerError
	if errors.As(err, &se) && (se.HasErrorLabel("RetryableWriteError") || se.HasErrorLabel("NetworkError")) {
		return true
	}
	if errors.As(err, &se) {
		for _, code := range transientCodes {
			if se.HasErrorCode(code) {
				return true
			}
		}
	}
	return mongo.IsNetworkError(err) || mongo.IsTimeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, mongo.ErrClientDisconnected) ||
		errors.As(err, new(topology.ServerSelectionError))
}
