package reconcile

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"runtime"
	"strconv"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"mailsync/internal/mongostore"
)

// docSum is what a run keeps of one MongoDB document.
type docSum struct {
	id      int64
	version int64
	hash    string // recomputed from the document's own fields; "" if it does not decode
	mix     uint64
	badID   bool // _id is not an integer: an orphan no email can match
	// tomb: an erased email's tombstone. It stands for "no document": an
	// erased email with a tombstone agrees, and a tombstone is no orphan.
	tomb bool
}

// mix is the 64-bit record hash both sides XOR per range: the first 8 bytes
// of md5("id:version:content_hash"), as BucketSummaries computes in SQL.
func mix(id, version int64, hash string) uint64 {
	var buf [128]byte
	b := strconv.AppendInt(buf[:0], id, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, version, 10)
	b = append(b, ':')
	b = append(b, hash...)
	sum := md5.Sum(b)
	return binary.BigEndian.Uint64(sum[:8])
}

// summarize decodes one document and hashes its content from its fields,
// never trusting its stored content_hash.
func summarize(raw bson.Raw) docSum {
	if mongostore.IsTombstone(raw) {
		id, _ := raw.Lookup("_id").AsInt64OK()
		return docSum{id: id, tomb: true}
	}
	if len(raw) >= streamAbove {
		if d, ok := summarizeLarge(raw); ok {
			return d
		}
	}
	var d mongostore.Document
	if err := bson.Unmarshal(raw, &d); err != nil {
		id, ok := raw.Lookup("_id").AsInt64OK()
		if !ok {
			return docSum{badID: true}
		}
		version, _ := raw.Lookup("version").AsInt64OK()
		return docSum{id: id, version: version, mix: mix(id, version, "")}
	}
	h := d.Content().Hash()
	return docSum{id: d.ID, version: d.Version, hash: h, mix: mix(d.ID, d.Version, h)}
}

// chunkSize caps the documents of one chunk handed to a hasher; a chunk is
// also cut when it holds a quarter of the read budget, so several hashers
// get work.
const chunkSize = 256

// scan reads the documents matching filter with one cursor, in the order
// the server returns them, and calls visit with each document's summary
// from the calling goroutine. A reader goroutine copies raw documents into
// chunks and one worker per CPU decodes and hashes them, so hashing
// overlaps the reading. The bytes of the documents held at once, read or
// being hashed, stay within cfg.ReadBudget whatever their sizes and the
// collection's (a document larger than the budget is held alone). It
// returns the first error of the cursor, or ctx's.
func (r *Reconciler) scan(ctx context.Context, q read, visit func(docSum)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := newBudget(r.cfg.ReadBudget)
	defer r.notePeak(b)
	workers := max(1, runtime.GOMAXPROCS(0))
	work, out := make(chan []bson.Raw, 2*workers), make(chan []docSum, 2*workers)
	var readErr error
	var wg, hashers sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(work)
		readErr = r.read(ctx, q, b, work)
	}()
	hashers.Add(workers)
	for i := 0; i < workers; i++ {
		go func() {
			defer hashers.Done()
			for raws := range work {
				sums := make([]docSum, len(raws))
				for j, raw := range raws {
					sums[j] = summarize(raw)
					b.give(int64(len(raw)))
					raws[j] = nil
				}
				select {
				case out <- sums:
				case <-ctx.Done():
				}
			}
		}()
	}
	go func() {
		hashers.Wait()
		close(out)
	}()
	for sums := range out {
		for _, d := range sums {
			visit(d)
		}
	}
	wg.Wait()
	if readErr != nil {
		return readErr
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("read MongoDB: %w", err)
	}
	return nil
}

// read sends the raw documents matching q's filter to work in chunks,
// taking each document's room in b before copying it. A document bigger
// than q's batch size allows shrinks the following batches.
func (r *Reconciler) read(ctx context.Context, q read, b *budget, work chan<- []bson.Raw) error {
	cur, err := r.mongo.Coll().Find(ctx, q.filter, options.Find().SetBatchSize(q.batch))
	if err != nil {
		return fmt.Errorf("read MongoDB: %w", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	send := func(c []bson.Raw) bool {
		select {
		case work <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var c []bson.Raw
	var cBytes int64
	batch := q.batch
	for cur.Next(ctx) {
		n := int64(len(cur.Current))
		if n*int64(batch) > batchBytes && batch > 1 {
			batch = int32(max(1, batchBytes/n))
			cur.SetBatchSize(batch)
		}
		if !b.tryTake(n) {
			// No room: hand over what is held, so the hashers can give
			// room back, then wait for it.
			if len(c) > 0 {
				if !send(c) {
					return fmt.Errorf("read MongoDB: %w", ctx.Err())
				}
				c, cBytes = nil, 0
			}
			if err := b.take(ctx, n); err != nil {
				return fmt.Errorf("read MongoDB: %w", err)
			}
		}
		c = append(c, bytes.Clone(cur.Current))
		cBytes += n
		if len(c) == chunkSize || cBytes >= r.cfg.ReadBudget/4 {
			if !send(c) {
				return fmt.Errorf("read MongoDB: %w", ctx.Err())
			}
			c, cBytes = nil, 0
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read MongoDB: %w", err)
	}
	if len(c) > 0 && !send(c) {
		return fmt.Errorf("read MongoDB: %w", ctx.Err())
	}
	return nil
}

// notePeak records the most bytes b held at once in the reconciler's peak.
func (r *Reconciler) notePeak(b *budget) {
	p := b.peak.Load()
	for old := r.readPeak.Load(); p > old && !r.readPeak.CompareAndSwap(old, p); old = r.readPeak.Load() {
	}
}
