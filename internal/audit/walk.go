package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"mailsync/internal/db"
)

// The kinds of Finding.
const (
	// KindChanged: a stored event differs from what was chained.
	KindChanged = "changed"
	// KindInserted: an event that was never chained there.
	KindInserted = "inserted"
	// KindDeleted: chained events are missing.
	KindDeleted = "deleted"
	// KindCheckpoint: a checkpoint whose signature or content is wrong.
	KindCheckpoint = "checkpoint"
)

// Finding is one break of the chain. ID is the event named (0 when the
// event is gone); Seq is its place in the chain.
type Finding struct {
	Kind   string
	ID     int64
	Seq    int64
	Detail string
}

// String is the finding as one line, such as "changed: event 12 (seq 12):
// its fields do not match its hash".
func (f Finding) String() string {
	switch {
	case f.ID != 0:
		return fmt.Sprintf("%s: event %d (seq %d): %s", f.Kind, f.ID, f.Seq, f.Detail)
	case f.Kind == KindCheckpoint:
		return fmt.Sprintf("%s: %s", f.Kind, f.Detail)
	}
	return fmt.Sprintf("%s: seq %d: %s", f.Kind, f.Seq, f.Detail)
}

// walkPage is how many rows the walk reads at a time.
const walkPage = 1000

// cursor reads the chain in order, a page at a time, with one row of
// look-ahead.
type cursor struct {
	q        *db.Queries
	buf      []db.ChainedAuditEvent
	afterSeq int64
	afterID  int64
	end      bool
}

// peek returns the next row without taking it; nil at the end.
func (c *cursor) peek(ctx context.Context) (*db.ChainedAuditEvent, error) {
	if len(c.buf) == 0 && !c.end {
		rows, err := c.q.AuditChainPage(ctx, c.afterSeq, c.afterID, walkPage)
		if err != nil {
			return nil, err
		}
		if len(rows) < walkPage {
			c.end = true
		}
		if len(rows) > 0 {
			last := rows[len(rows)-1]
			c.afterSeq, c.afterID = last.Seq, last.ID
		}
		c.buf = rows
	}
	if len(c.buf) == 0 {
		return nil, nil
	}
	return &c.buf[0], nil
}

// group takes every row of the next seq (more than one only when rows were
// inserted); empty at the end.
func (c *cursor) group(ctx context.Context) ([]db.ChainedAuditEvent, error) {
	var g []db.ChainedAuditEvent
	for {
		r, err := c.peek(ctx)
		if err != nil || r == nil || (len(g) > 0 && r.Seq != g[0].Seq) {
			return g, err
		}
		g = append(g, *r)
		c.buf = c.buf[1:]
	}
}

// redacted reports whether details were replaced by a redaction
// ({"redacted": true, ...}), which keeps their hash.
func redacted(detailsText string) bool {
	var d struct {
		Redacted bool `json:"redacted"`
	}
	return json.Unmarshal([]byte(detailsText), &d) == nil && d.Redacted
}

// link is where the walk stands: the last event verified (nil at the
// pruned base) and the hash the next event must name.
type link struct {
	seq  int64
	hash []byte
	row  *db.ChainedAuditEvent
}

func (l link) name() string {
	if l.row == nil {
		if l.seq == 0 {
			return "the start of the chain"
		}
		return fmt.Sprintf("the pruned prefix (up to seq %d)", l.seq)
	}
	return fmt.Sprintf("event %d (seq %d)", l.row.ID, l.seq)
}

// check verifies the one row r that holds the next seq after at; next is
// the row after it (nil at the end) and head the chain's recorded head
// seq. It returns nil when r is chained after at as stored.
func check(at link, r, next *db.ChainedAuditEvent, head int64) *Finding {
	linked := bytes.Equal(r.PrevHash, at.hash)
	selfOK := bytes.Equal(EventHash(r.PrevHash, *r), r.Hash)
	f := &Finding{ID: r.ID, Seq: r.Seq}
	switch {
	case next != nil && bytes.Equal(next.PrevHash, at.hash) && !bytes.Equal(next.PrevHash, r.Hash):
		f.Kind, f.Detail = KindInserted, fmt.Sprintf("the event after it (event %d) is chained to %s", next.ID, at.name())
	case r.Seq > head:
		f.Kind, f.Detail = KindInserted, fmt.Sprintf("it comes after the chain's recorded head (seq %d)", head)
	case linked && !redacted(r.DetailsText) && !bytes.Equal(DetailsHash(r.DetailsText), r.DetailsHash):
		f.Kind, f.Detail = KindChanged, "its details do not match their hash"
	case linked && !selfOK:
		f.Kind, f.Detail = KindChanged, "its fields do not match its hash"
	case linked:
		return nil
	case selfOK && at.row != nil && next != nil && bytes.Equal(next.PrevHash, r.Hash):
		return &Finding{Kind: KindChanged, ID: at.row.ID, Seq: at.seq,
			Detail: fmt.Sprintf("its hash is not the one event %d recorded for it (or events after it were deleted)", r.ID)}
	default:
		f.Kind, f.Detail = KindChanged, fmt.Sprintf("it is not chained to %s", at.name())
	}
	return f
}
