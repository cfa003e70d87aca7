package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

const duplicateKey = 11000

// WriteResult says what Write did with each document.
type WriteResult struct {
	Inserted int // new documents
	Replaced int // existing documents brought up to date
	Current  int // existing documents already equal or newer: left alone
	// Refused holds, per document id, the error MongoDB refused it with
	// (a permanent failure of that document alone).
	Refused map[int64]error
	// Deferred holds the ids of existing documents not compared before the
	// context's deadline came near: nothing was written for them, and the
	// caller retries them later without counting an attempt.
	Deferred []int64
}

// Write stores docs idempotently and version-guarded. New documents go in
// with one unordered InsertMany (fast on FerretDB too). Documents whose _id
// exists are read back and replaced only when the stored version is not
// newer and the stored fields differ, so a replay never duplicates a
// document and a stale write never overwrites a newer one. A transient error
// (see IsTransient) is returned as the error; nothing is then known to be
// written, and the caller retries the whole batch later.
func (s *Store) Write(ctx context.Context, docs []Document) (WriteResult, error) {
	res := WriteResult{Refused: map[int64]error{}}
	if len(docs) == 0 {
		return res, nil
	}
	byID := make(map[int64]Document, len(docs))
	items := make([]any, len(docs))
	for i, d := range docs {
		byID[d.ID] = d
		items[i] = d
	}
	var existing []int64
	out, err := s.coll.InsertMany(ctx, items, options.InsertMany().SetOrdered(false))
	if out != nil {
		res.Inserted = len(out.InsertedIDs)
	}
	var bwe mongo.BulkWriteException
	switch {
	case err == nil:
		return res, nil
	case IsTransient(err):
		return res, fmt.Errorf("mongodb insert %d documents: %w", len(docs), err) // nothing is known to be written: the batch is retried
	case errors.As(err, &bwe) && bwe.WriteConcernError == nil:
		res.Inserted = len(docs) - len(bwe.WriteErrors)
		for _, we := range bwe.WriteErrors {
			id := docs[we.Index].ID
			if we.Code == duplicateKey {
				existing = append(existing, id)
			} else {
				res.Refused[id] = fmt.Errorf("mongodb refused document: %s (code %d)", we.Message, we.Code)
			}
		}
	case len(docs) == 1:
		return res, fmt.Errorf("mongodb insert document %d: %w", docs[0].ID, err)
	default:
		// The batch as a whole was refused (e.g. one document over the size
		// limit, caught by the driver): write one by one to isolate it.
		return s.writeEach(ctx, docs)
	}
	return res, s.update(ctx, existing, byID, &res)
}

func (s *Store) writeEach(ctx context.Context, docs []Document) (WriteResult, error) {
	res := WriteResult{Refused: map[int64]error{}}
	for _, d := range docs {
		r, err := s.Write(ctx, []Document{d})
		if IsTransient(err) {
			return res, err
		}
		if err != nil {
			r.Refused = map[int64]error{d.ID: fmt.Errorf("mongodb refused document: %w", err)}
		}
		res.Inserted += r.Inserted
		res.Replaced += r.Replaced
		res.Current += r.Current
		for id, e := range r.Refused {
			res.Refused[id] = e
		}
	}
	return res, nil
}

// update replaces the existing documents in ids that are stale or differ.
// It looks them up one by one: FerretDB runs {_id: {$in: ids}} as a scan of
// the whole collection in its own code (over 30 s at ~40k documents on a
// small machine), and even {_id: id} costs it a sequential scan in
// PostgreSQL, so when ctx's deadline comes near (a quarter of the time left
// at the start) the ids not looked at yet go to res.Deferred, and a batch of
// replays still makes progress. At least one id is always handled.
func (s *Store) update(ctx context.Context, ids []int64, want map[int64]Document, res *WriteResult) error {
	deadline, bounded := ctx.Deadline()
	margin := time.Until(deadline) / 4
	for i, id := range ids {
		if i > 0 && bounded && time.Until(deadline) < margin {
			res.Deferred = append(res.Deferred, ids[i:]...)
			return nil
		}
		var h Document
		err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&h)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue // removed in between
		}
		if err != nil {
			return fmt.Errorf("mongodb find document %d: %w", id, err)
		}
		w := want[id]
		if h.Erased || h.Version > w.Version || (h.Version == w.Version && h.ContentHash == w.ContentHash && h.Content().Hash() == w.ContentHash) {
			res.Current++
			continue
		}
		filter := bson.D{{Key: "_id", Value: w.ID}, {Key: "version", Value: bson.D{{Key: "$lte", Value: w.Version}}},
			{Key: "erased", Value: bson.D{{Key: "$ne", Value: true}}}}
		r, err := s.coll.ReplaceOne(ctx, filter, w)
		switch {
		case IsTransient(err):
			return fmt.Errorf("mongodb replace document %d: %w", id, err)
		case err != nil:
			res.Refused[w.ID] = fmt.Errorf("mongodb refused document: %w", err)
		case r.MatchedCount == 0:
			res.Current++ // a newer version landed in between
		default:
			res.Replaced++
		}
	}
	return nil
}

// Delete removes the documents with the given ids (orphans) and returns how
// many were removed.
func (s *Store) Delete(ctx context.Context, ids []int64) (int64, error) {
	r, err := s.coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return 0, fmt.Errorf("mongodb delete %d documents: %w", len(ids), err)
	}
	return r.DeletedCount, nil
}
