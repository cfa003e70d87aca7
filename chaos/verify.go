package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/mongostore"
)

// StoreCounts is what the direct look at both stores found.
type StoreCounts struct {
	PGRows, MongoDocs int
	Lost, Doubled     int // acknowledged emails missing anywhere; extra copies anywhere
	Failed            int // emails with sync_status failed
	HashMismatch      int // acknowledged emails whose hashes disagree somewhere
	StoredUnacked     int // emails stored under a key that never got a 2xx (allowed)
	Blobs, MongoBlobs int // blobs in PostgreSQL, GridFS files
	Problems          []string
	pgByID            map[int64]pgRow
}

type pgRow struct {
	id               int64
	client, key, msg string
	hash, status     string
	version          int64
	hasKey           bool
}

func (s *StoreCounts) problem(format string, args ...any) {
	if len(s.Problems) < 100 {
		s.Problems = append(s.Problems, fmt.Sprintf(format, args...))
	}
}

// CheckStores compares every acknowledgement with PostgreSQL and MongoDB:
// each acknowledged email is in PostgreSQL exactly once (by client and key,
// by id, and by message id) with the acknowledged id and the hash of the
// content sent, and in MongoDB exactly once (by _id, and by client and
// message id) with a document whose content, hashed from its own fields,
// matches. sent holds every (client, key) ever sent, acknowledged or not.
func CheckStores(ctx context.Context, databaseURL, mongoURL, mongoDB string, acks []*Ack, sent map[string]bool) (StoreCounts, error) {
	var s StoreCounts
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()

	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return s, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT id, client_id, coalesce(idempotency_key, ''), idempotency_key IS NOT NULL,
		message_id, content_hash, sync_status, version FROM incoming_emails`)
	if err != nil {
		return s, err
	}
	byKey := map[string][]pgRow{}
	byMsg := map[string]int{}
	s.pgByID = map[int64]pgRow{}
	for rows.Next() {
		var r pgRow
		if err := rows.Scan(&r.id, &r.client, &r.key, &r.hasKey, &r.msg, &r.hash, &r.status, &r.version); err != nil {
			return s, err
		}
		s.PGRows++
		s.pgByID[r.id] = r
		byKey[r.client+"\x00"+r.key] = append(byKey[r.client+"\x00"+r.key], r)
		byMsg[r.client+"\x00"+r.msg]++
		switch r.status {
		case "failed":
			s.Failed++
			s.problem("email %d (%s/%s) is failed", r.id, r.client, r.key)
		case "synced":
		default:
			s.problem("email %d (%s/%s) is %s after the drain", r.id, r.client, r.key, r.status)
		}
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	for k, n := range byMsg {
		if n > 1 {
			s.Doubled += n - 1
			s.problem("DOUBLED in PostgreSQL: %d rows for client/message id %q", n, k)
		}
	}

	docs, err := mongoDocs(ctx, mongoURL, mongoDB)
	if err != nil {
		return s, err
	}
	s.MongoDocs = len(docs)
	mongoByID := map[int64]mongostore.Document{}
	idCount := map[int64]int{}
	msgCount := map[string]int{}
	for _, d := range docs {
		idCount[d.ID]++
		msgCount[d.ClientID+"\x00"+d.MessageID]++
		mongoByID[d.ID] = d
		if _, ok := s.pgByID[d.ID]; !ok {
			s.problem("MongoDB document %d has no PostgreSQL email (orphan)", d.ID)
		}
	}
	for id, n := range idCount {
		if n > 1 {
			s.Doubled += n - 1
			s.problem("DOUBLED in MongoDB: %d documents with _id %d", n, id)
		}
	}
	for k, n := range msgCount {
		if n > 1 {
			s.Doubled += n - 1
			s.problem("DOUBLED in MongoDB: %d documents for client/message id %q", n, k)
		}
	}

	acked := map[string]bool{}
	for _, a := range acks {
		k := a.Client + "\x00" + a.Key
		acked[k] = true
		rs := byKey[k]
		if len(rs) == 0 {
			s.Lost++
			s.problem("LOST: %s/%s acknowledged as email %d, not in PostgreSQL", a.Client, a.Key, a.ID)
			continue
		}
		r := rs[0]
		if r.id != a.ID {
			s.Lost++
			s.problem("LOST: %s/%s acknowledged as email %d, stored as %d", a.Client, a.Key, a.ID, r.id)
			continue
		}
		if r.hash != a.Expected || r.msg != a.MessageID {
			s.HashMismatch++
			s.problem("%s/%s (email %d): PostgreSQL content_hash %s, sent content hashes to %s", a.Client, a.Key, a.ID, r.hash, a.Expected)
		}
		d, ok := mongoByID[a.ID]
		if !ok {
			s.Lost++
			s.problem("LOST in MongoDB: email %d (%s/%s) has no document", a.ID, a.Client, a.Key)
			continue
		}
		if h := d.Content().Hash(); h != r.hash || d.ContentHash != r.hash || d.Version != r.version {
			s.HashMismatch++
			s.problem("email %d: MongoDB document hashes to %s (stored %s, version %d); PostgreSQL has %s (version %d)",
				a.ID, h, d.ContentHash, d.Version, r.hash, r.version)
		}
	}
	if err := s.checkBlobs(ctx, conn, mongoURL, mongoDB); err != nil {
		return s, err
	}
	for k, rs := range byKey {
		if acked[k] {
			continue
		}
		for _, r := range rs {
			if r.hasKey && sent[k] {
				s.StoredUnacked++ // sent, answer lost, client gave up: allowed, stored once
			} else {
				s.problem("email %d stored under %s/%s, a key the load generator never sent", r.id, r.client, r.key)
			}
		}
	}
	return s, nil
}

func mongoDocs(ctx context.Context, url, dbName string) ([]mongostore.Document, error) {
	st, err := mongostore.Connect(ctx, url, dbName, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer st.Close(context.Background())
	cur, err := st.Coll().Find(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	var all []mongostore.Document
	if err := cur.All(ctx, &all); err != nil {
		return nil, err
	}
	docs := all[:0]
	for _, d := range all {
		if !d.Erased { // an erased email's tombstone holds no content
			docs = append(docs, d)
		}
	}
	return docs, nil
}
