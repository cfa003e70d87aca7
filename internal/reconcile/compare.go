package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/db"
)

// walk is one run's comparison, in buckets of RangeSize consecutive ids
// (bucket b holds the ids in (b*RangeSize, (b+1)*RangeSize]).
//
//  1. Both sides are summarised per bucket, concurrently: PostgreSQL
//     keyset-paged by id (BucketSummaries), MongoDB with one cursor over the
//     whole collection, each document hashed from its own fields. Only the
//     per-bucket count and XOR of record hashes are kept: memory grows with
//     the number of buckets, not of emails.
//  2. Buckets whose aggregates agree and that hold no unsynced email are
//     done. For those that disagree, the documents of a batch of buckets are
//     fetched with one _id-range query and compared record by record with
//     the bucket's emails; for those that agree but hold unsynced emails,
//     the emails alone tell the status drift.
//
// The documents of at most 100,000 ids are held at a time while drilling.
// The MongoDB cursor needs no sort: FerretDB cannot stream a sorted cursor
// (it sorts the whole collection in memory: 3.5 GB for 200,000 emails),
// while a plain scan streams on MongoDB and FerretDB alike. On MongoDB the
// _id-range queries use the _id index; on FerretDB (no range pushdown) each
// is one more filtered scan, paid only when something differs.
type walk struct {
	r      *Reconciler
	size   sizing
	t      *tally
	dryRun bool
	// since is when the run started (PostgreSQL's clock): an email synced
	// after it changed while MongoDB was being read, and is left to the next
	// run.
	since time.Time
	// orphanBlobs are the blobs this run found orphaned (each counted once).
	orphanBlobs map[string]bool
}

// bucketAgg is one side's summary of a bucket.
type bucketAgg struct {
	n   int64  // replicated emails, or documents
	xor uint64 // XOR of their mix
}

type pgBucket struct {
	bucketAgg
	unsynced int64
}

// candidate is a bucket to look into; fetch when its aggregates differ.
type candidate struct {
	bucket int64
	fetch  bool
}

func (w *walk) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var err error
	if w.size, err = w.plan(ctx); err != nil {
		return err
	}
	var pg map[int64]*pgBucket
	var pgRows int64
	pgErr := make(chan error, 1)
	go func() {
		var err error
		pg, pgRows, err = w.pgBuckets(ctx)
		if err != nil {
			cancel()
		}
		pgErr <- err
	}()
	mongo := map[int64]*bucketAgg{}
	visit := func(d docSum) {
		w.t.checked++
		if d.tomb {
			return // an erased email's: left out like erased emails on the PostgreSQL side
		}
		if d.badID {
			w.t.counts[orphanInMongo]++ // no id to sample or remove
			return
		}
		b := w.bucketOf(d.id)
		a := mongo[b]
		if a == nil {
			a = &bucketAgg{}
			mongo[b] = a
		}
		a.n++
		a.xor ^= d.mix
	}
	for _, q := range w.size.summaryReads() {
		if err = w.r.scan(ctx, q, visit); err != nil {
			break
		}
	}
	if err != nil {
		cancel()
	}
	if perr := <-pgErr; perr != nil {
		return perr
	}
	w.t.checked += pgRows
	if err != nil {
		return fmt.Errorf("summarise MongoDB: %w", err)
	}

	return w.drillAll(ctx, candidates(pg, mongo))
}

// candidates lists, in id order, the buckets whose aggregates differ (fetch)
// and those that agree but hold unsynced emails.
func candidates(pg map[int64]*pgBucket, mongo map[int64]*bucketAgg) []candidate {
	var out []candidate
	for b, p := range pg {
		m := mongo[b]
		if m == nil {
			m = &bucketAgg{}
		}
		if *m != p.bucketAgg {
			out = append(out, candidate{bucket: b, fetch: true})
		} else if p.unsynced > 0 {
			out = append(out, candidate{bucket: b})
		}
	}
	for b := range mongo {
		if pg[b] == nil {
			out = append(out, candidate{bucket: b, fetch: true})
		}
	}
	slices.SortFunc(out, func(a, b candidate) int { return cmp.Compare(a.bucket, b.bucket) })
	return out
}

func (w *walk) bucketOf(id int64) int64 {
	size := int64(w.r.cfg.RangeSize)
	q := (id - 1) / size
	if (id-1)%size < 0 {
		q--
	}
	return q
}

// bounds returns bucket b's ids as (after, last].
func (w *walk) bounds(b int64) (after, last int64) {
	size := int64(w.r.cfg.RangeSize)
	return b * size, b*size + size
}

// pgBuckets summarises every PostgreSQL email per bucket, and counts them.
func (w *walk) pgBuckets(ctx context.Context) (map[int64]*pgBucket, int64, error) {
	out := map[int64]*pgBucket{}
	var total int64
	page := int32(min(16*w.r.cfg.RangeSize, 50_000))
	after := int64(math.MinInt64)
	for {
		rows, err := w.r.q.BucketSummaries(ctx, after, page, int64(w.r.cfg.RangeSize))
		if err != nil {
			return nil, 0, err
		}
		var spanned int64
		for _, row := range rows {
			p := out[row.Bucket]
			if p == nil {
				p = &pgBucket{}
				out[row.Bucket] = p
			}
			p.n += row.Replicated
			p.xor ^= row.XorHash
			p.unsynced += row.Unsynced
			spanned += row.RowsSpanned
			after = max(after, row.LastID)
		}
		total += spanned
		if spanned < int64(page) {
			return out, total, nil
		}
	}
}

// drillAll looks into the candidate buckets in id order, fetching the
// documents of up to fetchBatch differing buckets per MongoDB query.
func (w *walk) drillAll(ctx context.Context, cands []candidate) error {
	fetchBatch := max(1, min(100_000/w.r.cfg.RangeSize, 1000))
	for len(cands) > 0 {
		n, fetches := 0, 0
		for n < len(cands) && (fetches < fetchBatch || !cands[n].fetch) {
			if cands[n].fetch {
				fetches++
			}
			n++
		}
		docs, err := w.fetch(ctx, cands[:n])
		if err != nil {
			return fmt.Errorf("fetch the documents of differing ranges: %w", err)
		}
		for _, c := range cands[:n] {
			if err := w.drill(ctx, c, docs[c.bucket]); err != nil {
				return err
			}
		}
		cands = cands[n:]
	}
	return nil
}

// fetch reads the documents of the candidates to fetch, per bucket in _id
// order, with one query of _id ranges (adjacent buckets merged).
func (w *walk) fetch(ctx context.Context, cands []candidate) (map[int64][]docSum, error) {
	var spans [][2]int64 // (after, last]
	for _, c := range cands {
		if !c.fetch {
			continue
		}
		after, last := w.bounds(c.bucket)
		if n := len(spans); n > 0 && spans[n-1][1] == after {
			spans[n-1][1] = last
		} else {
			spans = append(spans, [2]int64{after, last})
		}
	}
	ranges := make(bson.A, len(spans))
	for i, s := range spans {
		ranges[i] = bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: s[0]}, {Key: "$lte", Value: s[1]}}}}
	}
	out := map[int64][]docSum{}
	if len(ranges) == 0 {
		return out, nil
	}
	q := read{filter: bson.D{{Key: "$or", Value: ranges}}, batch: w.size.fetchBatch}
	err := w.r.scan(ctx, q, func(d docSum) {
		if !d.badID && !d.tomb {
			out[w.bucketOf(d.id)] = append(out[w.bucketOf(d.id)], d)
		}
	})
	for _, docs := range out {
		slices.SortFunc(docs, func(a, b docSum) int { return cmp.Compare(a.id, b.id) })
	}
	return out, err
}

// drill compares one bucket record by record. For a bucket whose aggregates
// agree (not c.fetch) every email's document is known equal, so only the
// sync status is checked; otherwise docs are the bucket's documents.
func (w *walk) drill(ctx context.Context, c candidate, docs []docSum) error {
	after, last := w.bounds(c.bucket)
	rows, err := w.r.q.RangeRows(ctx, after, last, w.since, w.r.cfg.Grace)
	if err != nil {
		return err
	}
	var f findings
	if !c.fetch {
		for _, e := range rows {
			if !e.Erased { // agreeing aggregates leave out erased emails: no document
				f.both(e, docSum{id: e.ID, version: e.Version, hash: e.ContentHash})
			}
		}
		return w.settle(ctx, &f)
	}
	if err := w.legacyHashes(ctx, rows); err != nil {
		return err
	}
	i, j := 0, 0
	for i < len(rows) || j < len(docs) {
		switch {
		case j == len(docs) || (i < len(rows) && rows[i].ID < docs[j].id):
			f.missingOrInFlight(rows[i])
			i++
		case i == len(rows) || docs[j].id < rows[i].ID:
			f.orphans = append(f.orphans, docs[j].id)
			j++
		default:
			f.both(rows[i], docs[j])
			i++
			j++
		}
	}
	return w.settle(ctx, &f)
}

// legacyHashes fills in the content hash of emails stored before content
// hashes existed, from their content.
func (w *walk) legacyHashes(ctx context.Context, rows []db.RangeEmail) error {
	var ids []int64
	at := map[int64]int{}
	for i, e := range rows {
		if e.ContentHash == "" {
			ids = append(ids, e.ID)
			at[e.ID] = i
		}
	}
	if len(ids) == 0 {
		return nil
	}
	hashes, err := w.r.q.ContentHashes(ctx, ids)
	if err != nil {
		return err
	}
	for id, h := range hashes {
		rows[at[id]].ContentHash = h
	}
	return nil
}
