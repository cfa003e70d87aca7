package audit

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	"golang.org/x/mod/sumdb/note"

	"mailsync/internal/db"
)

// VerifyOptions say what Verify checks besides the chain itself.
type VerifyOptions struct {
	// Verifiers check the signatures of the stored checkpoints and of
	// External. When nil, a stored checkpoint or an external one fails
	// verification (it cannot be checked).
	Verifiers note.Verifiers
	// External are checkpoint notes kept off the database host.
	External [][]byte
}

// Report is the outcome of Verify.
type Report struct {
	// FromSeq is the seq the walk started after (the pruned prefix).
	FromSeq int64
	// HeadSeq and HeadHash are the last event verified.
	HeadSeq  int64
	HeadHash []byte
	// Events counts the events verified; Redacted those of them whose
	// details were redacted.
	Events   int64
	Redacted int64
	// Checkpoints counts the checkpoints (stored and external) that match
	// the chain; Unreachable those older than the pruned prefix, which can
	// no longer be checked.
	Checkpoints int
	Unreachable int
	// Findings are the breaks, the earliest in the chain first; empty when
	// the chain is intact.
	Findings []Finding
}

// Intact reports whether nothing was found.
func (r Report) Intact() bool { return len(r.Findings) == 0 }

// Verify recomputes the chain from the pruned prefix to its head in one
// snapshot of the database at pool, stops at the first break, and checks
// every stored checkpoint and o.External against it. The returned error is
// for a failure to read (the report is then incomplete); a broken chain is
// a Report with Findings.
func Verify(ctx context.Context, pool db.SnapshotBeginner, o VerifyOptions) (Report, error) {
	var rep Report
	err := db.InSnapshot(ctx, pool, func(q *db.Queries) error {
		var err error
		rep, err = verify(ctx, q, o)
		return err
	})
	return rep, err
}

type verified struct {
	hash []byte
	id   int64
}

func verify(ctx context.Context, q *db.Queries, o VerifyOptions) (Report, error) {
	st, err := q.AuditChainState(ctx)
	if err != nil {
		return Report{}, err
	}
	rep := Report{FromSeq: st.PrunedSeq}
	seen := map[int64]verified{st.PrunedSeq: {hash: st.PrunedHash}}
	at := link{seq: st.PrunedSeq, hash: st.PrunedHash}
	broken := int64(-1) // the seq the walk stopped at
	c := &cursor{q: q, afterSeq: st.PrunedSeq}
	for broken < 0 {
		g, err := c.group(ctx)
		if err != nil {
			return rep, err
		}
		if len(g) == 0 {
			break
		}
		next, err := c.peek(ctx)
		if err != nil {
			return rep, err
		}
		if f := step(at, g, next, st.HeadSeq); f != nil {
			rep.Findings, broken = append(rep.Findings, *f), f.Seq
			break
		}
		r := g[0]
		at = link{seq: r.Seq, hash: r.Hash, row: &r}
		seen[r.Seq] = verified{hash: r.Hash, id: r.ID}
		rep.Events++
		if redacted(r.DetailsText) {
			rep.Redacted++
		}
	}
	rep.HeadSeq, rep.HeadHash = at.seq, at.hash
	if broken < 0 {
		switch {
		case at.seq < st.HeadSeq:
			rep.Findings = append(rep.Findings, Finding{Kind: KindDeleted, Seq: at.seq + 1,
				Detail: fmt.Sprintf("the newest events up to seq %d are missing; the chain ends at %s", st.HeadSeq, at.name())})
		case !bytes.Equal(at.hash, st.HeadHash) && at.row != nil:
			rep.Findings = append(rep.Findings, Finding{Kind: KindChanged, ID: at.row.ID, Seq: at.seq,
				Detail: "its hash is not the chain's recorded head hash"})
		}
	}
	if err := checkCheckpoints(ctx, q, o, st, seen, broken, &rep); err != nil {
		return rep, err
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool { return rep.Findings[i].Seq < rep.Findings[j].Seq })
	return rep, nil
}

// step checks the rows g of the next seq after at; nil when one row holds
// it and is chained as stored.
func step(at link, g []db.ChainedAuditEvent, next *db.ChainedAuditEvent, head int64) *Finding {
	s := g[0].Seq
	if s > at.seq+1 {
		f := &Finding{Kind: KindDeleted, Seq: at.seq + 1,
			Detail: fmt.Sprintf("events seq %d to %d are missing between %s and event %d", at.seq+1, s-1, at.name(), g[0].ID)}
		return f
	}
	if s <= at.seq { // only at the start: rows the pruned prefix should not hold
		return &Finding{Kind: KindInserted, ID: g[0].ID, Seq: s,
			Detail: fmt.Sprintf("its seq is within the pruned prefix (up to seq %d)", at.seq)}
	}
	if len(g) == 1 {
		return check(at, &g[0], next, head)
	}
	good := -1
	for i := range g {
		if check(at, &g[i], next, head) == nil && good < 0 {
			good = i
		}
	}
	for i := range g {
		if i != good {
			other := "none of them is chained"
			if good >= 0 {
				other = fmt.Sprintf("event %d is the chained one", g[good].ID)
			}
			return &Finding{Kind: KindInserted, ID: g[i].ID, Seq: s,
				Detail: fmt.Sprintf("%d events hold seq %d; %s", len(g), s, other)}
		}
	}
	return nil
}
