package relay

import (
	"context"
	"encoding/json"

	"mailsync/internal/db"
	"mailsync/internal/mongostore"
)

// erase carries out a chunk of 'delete' messages: an erased email's
// document becomes its tombstone at the version its message names, an
// orphan's document (a message without a version: no email has that id)
// is removed. Each id is its own bounded statements; ids not reached before
// the write deadline come back as deferred (released, not counted).
func (b *batch) erase(ctx context.Context, ids []int64) (mongostore.WriteResult, map[int64]int64, error) {
	res := mongostore.WriteResult{Refused: map[int64]error{}}
	versions := map[int64]int64{}
	var tombs, orphans []int64
	for _, id := range ids {
		v, ok := deleteVersion(b.rows[id])
		if ok {
			versions[id] = v
			tombs = append(tombs, id)
		} else {
			orphans = append(orphans, id)
		}
	}
	er, err := b.r.mongo.Erase(ctx, tombs, versions)
	res.Deferred = append(res.Deferred, er.Deferred...)
	if err != nil || len(er.Deferred) > 0 {
		res.Deferred = append(res.Deferred, orphans...)
		return res, nil, err
	}
	_, deferred, err := b.r.mongo.DeleteEach(ctx, orphans)
	res.Deferred = append(res.Deferred, deferred...)
	return res, nil, err
}

// deleteVersion is the highest version the delete messages of one email
// name; ok is false when none names one (the removal of an orphan).
func deleteVersion(rows []db.OutboxMessage) (v int64, ok bool) {
	for _, m := range rows {
		if m.Operation != db.OpDelete {
			continue
		}
		var p struct {
			Version *int64 `json:"version"`
		}
		if json.Unmarshal(m.Payload, &p) == nil && p.Version != nil && *p.Version > v {
			v, ok = *p.Version, true
		}
	}
	return v, ok
}
