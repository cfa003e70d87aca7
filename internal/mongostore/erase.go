package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Tombstone is what an erased email leaves in MongoDB: a document holding
// only its id, the version of the erasure and erased: true. Every write of
// content is version-guarded and never replaces a tombstone, so no upsert
// loaded before the erasure can bring the document back, whenever it lands.
type Tombstone struct {
	ID       int64     `bson:"_id"`
	Version  int64     `bson:"version"`
	Erased   bool      `bson:"erased"`
	SyncedAt time.Time `bson:"synced_at"`
}

// IsTombstone reports whether raw is a tombstone.
func IsTombstone(raw bson.Raw) bool {
	v, ok := raw.Lookup("erased").BooleanOK()
	return ok && v
}

// EraseResult says what Erase did.
type EraseResult struct {
	Written int // tombstones written, or found already at their version or newer
	// Deferred holds the ids not handled before the context's deadline came
	// near: the caller retries them later without counting an attempt.
	Deferred []int64
}

// Erase replaces the document of each erased email id with its tombstone
// at versions[id] (or writes the tombstone when there is no document).
// Each id is its own statements, bounded to that one document, and when
// ctx's deadline comes near (a quarter of the time left at the start) the
// ids not handled yet go to Deferred; at least one id is always handled.
// A transient error (IsTransient) is returned as the error.
func (s *Store) Erase(ctx context.Context, ids []int64, versions map[int64]int64) (EraseResult, error) {
	var res EraseResult
	deadline, bounded := ctx.Deadline()
	margin := time.Until(deadline) / 4
	for i, id := range ids {
		if i > 0 && bounded && time.Until(deadline) < margin {
			res.Deferred = append(res.Deferred, ids[i:]...)
			return res, nil
		}
		if err := s.tombstone(ctx, Tombstone{ID: id, Version: versions[id], Erased: true, SyncedAt: time.Now().UTC()}); err != nil {
			return res, err
		}
		res.Written++
	}
	return res, nil
}

// tombstone writes t unless the document is already a tombstone of t's
// version or newer. It replaces an older document (content or tombstone)
// with one version-guarded statement, else inserts t; an insert that finds
// a document written in between tries again.
func (s *Store) tombstone(ctx context.Context, t Tombstone) error {
	older := bson.D{{Key: "_id", Value: t.ID}, {Key: "version", Value: bson.D{{Key: "$lt", Value: t.Version}}}}
	for range 3 {
		r, err := s.coll.ReplaceOne(ctx, older, t)
		if err != nil {
			return fmt.Errorf("mongodb write tombstone %d: %w", t.ID, err)
		}
		if r.MatchedCount > 0 {
			return nil
		}
		_, err = s.coll.InsertOne(ctx, t)
		var we mongo.WriteException
		switch {
		case err == nil:
			return nil
		case errors.As(err, &we) && we.HasErrorCode(duplicateKey):
			var cur Tombstone
			err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: t.ID}}).Decode(&cur)
			if err == nil && cur.Erased && cur.Version >= t.Version {
				return nil // already erased at this version or later
			}
			if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
				return fmt.Errorf("mongodb read document %d: %w", t.ID, err)
			}
			// A document older than t was written in between: replace it.
		default:
			return fmt.Errorf("mongodb insert tombstone %d: %w", t.ID, err)
		}
	}
	return fmt.Errorf("mongodb write tombstone %d: the document kept changing", t.ID)
}

// DeleteEach removes the documents with the given ids (orphans, which no
// email names), one statement per id, handing the ids not reached before
// ctx's deadline comes near back as deferred, like Erase. It returns how
// many were removed.
func (s *Store) DeleteEach(ctx context.Context, ids []int64) (removed int64, deferred []int64, err error) {
	deadline, bounded := ctx.Deadline()
	margin := time.Until(deadline) / 4
	for i, id := range ids {
		if i > 0 && bounded && time.Until(deadline) < margin {
			return removed, ids[i:], nil
		}
		r, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
		if err != nil {
			return removed, nil, fmt.Errorf("mongodb delete document %d: %w", id, err)
		}
		removed += r.DeletedCount
	}
	return removed, nil, nil
}
