package reconcile

import (
	"context"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MongoDB batches are sized in documents, but a reply must stay under the
// wire protocol's 48 MB message limit ("length of read message too large"),
// and FerretDB does not cut a batch at 16 MiB as MongoDB does. So batches
// are sized from what PostgreSQL says about the bodies (their length is
// known without reading them), with a margin per document for headers and
// the other fields, and shrunk further whenever a document read is bigger
// than expected.
const (
	batchBytes  = 32 << 20 // what one reply may carry
	docOverhead = 16 << 10 // per document, beyond its two bodies
	smallBody   = 16 << 10 // bodies up to this size are read 1,000 at a time
	maxBatch    = 1000
	// maxSeparate is how many large documents are read apart from the main
	// scan (excluded from it with $nin, which FerretDB checks per document);
	// with more, the whole scan uses the batch size of the largest.
	maxSeparate = 100
)

// sizing is how a run reads MongoDB.
type sizing struct {
	large      []int64 // read apart, in their own small batches (nil: none)
	largeBatch int32   // the batch size for them
	scanBatch  int32   // the batch size of the main scan
	fetchBatch int32   // the batch size of drill fetches (any document)
}

// batchFor is how many documents of up to bodyBytes of bodies fit a reply.
func batchFor(bodyBytes int64) int32 {
	return int32(max(1, min(maxBatch, batchBytes/(bodyBytes+docOverhead))))
}

// plan sizes the run's MongoDB reads from the largest PostgreSQL emails.
func (w *walk) plan(ctx context.Context) (sizing, error) {
	rows, err := w.r.q.LargeEmails(ctx, smallBody, maxSeparate+1)
	if err != nil {
		return sizing{}, fmt.Errorf("size MongoDB reads: %w", err)
	}
	if len(rows) == 0 {
		b := batchFor(smallBody)
		return sizing{scanBatch: b, fetchBatch: b}, nil
	}
	largest := batchFor(rows[0].Bytes)
	if len(rows) > maxSeparate {
		return sizing{scanBatch: largest, fetchBatch: largest}, nil
	}
	s := sizing{largeBatch: largest, scanBatch: batchFor(smallBody), fetchBatch: largest}
	for _, r := range rows {
		s.large = append(s.large, r.ID)
	}
	slices.Sort(s.large)
	return s, nil
}

// summaryReads are the reads of the summary pass: every document, the
// large ones apart.
func (s sizing) summaryReads() []read {
	if len(s.large) == 0 {
		return []read{{filter: bson.D{}, batch: s.scanBatch}}
	}
	return []read{
		{filter: bson.D{{Key: "_id", Value: bson.D{{Key: "$nin", Value: s.large}}}}, batch: s.scanBatch},
		{filter: bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: s.large}}}}, batch: s.largeBatch},
	}
}

// read is one MongoDB query of a run and its first batch size.
type read struct {
	filter bson.D
	batch  int32
}
