package audit

import (
	"bytes"
	"context"
	"fmt"

	"mailsync/internal/db"
)

// checkCheckpoints checks every stored checkpoint and o.External against
// the hashes the walk verified (seen, by seq); the walk stopped at seq
// broken (-1 when it did not). Findings go to rep.
func checkCheckpoints(ctx context.Context, q *db.Queries, o VerifyOptions, st db.AuditChainState,
	seen map[int64]verified, broken int64, rep *Report) error {
	var before *int64
	for {
		page, next, err := q.ListAuditCheckpoints(ctx, before, 500)
		if err != nil {
			return err
		}
		for _, cp := range page {
			name := fmt.Sprintf("checkpoint %d", cp.ID)
			s, f := openCheckpoint([]byte(cp.Note), o, name)
			if f == nil && (s.Seq != cp.Seq || !bytes.Equal(s.Hash, cp.Hash)) {
				f = &Finding{Kind: KindCheckpoint, Seq: cp.Seq, Detail: name + ": its seq and hash columns differ from its signed note"}
			}
			if f == nil {
				f = against(s, name, st, seen, broken, rep)
			}
			if f != nil {
				rep.Findings = append(rep.Findings, *f)
			}
		}
		if next == nil {
			break
		}
		before = next
	}
	for i, text := range o.External {
		name := "the external checkpoint"
		if len(o.External) > 1 {
			name = fmt.Sprintf("external checkpoint %d", i+1)
		}
		s, f := openCheckpoint(text, o, name)
		if f == nil {
			f = against(s, name, st, seen, broken, rep)
		}
		if f != nil {
			rep.Findings = append(rep.Findings, *f)
		}
	}
	return nil
}

// openCheckpoint verifies a note's signature; a failure is a finding.
func openCheckpoint(text []byte, o VerifyOptions, name string) (Statement, *Finding) {
	if o.Verifiers == nil {
		return Statement{}, &Finding{Kind: KindCheckpoint, Detail: name + ": cannot be checked without a verifier key"}
	}
	s, err := OpenCheckpoint(text, o.Verifiers)
	if err != nil {
		return Statement{}, &Finding{Kind: KindCheckpoint, Detail: fmt.Sprintf("%s: %v", name, err)}
	}
	return s, nil
}

// against compares what a checkpoint states with the verified chain.
func against(s Statement, name string, st db.AuditChainState, seen map[int64]verified,
	broken int64, rep *Report) *Finding {
	when := s.At.UTC().Format("2006-01-02T15:04:05Z")
	switch {
	case s.Seq < st.PrunedSeq:
		rep.Unreachable++
		return nil
	case broken >= 0 && s.Seq >= broken:
		return nil // the chain broke before it: the walk's finding says where
	}
	v, ok := seen[s.Seq]
	switch {
	case s.Seq == 0 && bytes.Equal(s.Hash, ZeroHash):
	case !ok:
		return &Finding{Kind: KindDeleted, Seq: s.Seq,
			Detail: fmt.Sprintf("%s (signed %s) covers seq %d, but the chain ends at seq %d", name, when, s.Seq, rep.HeadSeq)}
	case !bytes.Equal(v.hash, s.Hash):
		return &Finding{Kind: KindChanged, ID: v.id, Seq: s.Seq,
			Detail: fmt.Sprintf("the chain up to here differs from %s (signed %s): events at or before seq %d were changed, inserted or deleted and the chain recomputed", name, when, s.Seq)}
	}
	rep.Checkpoints++
	return nil
}
