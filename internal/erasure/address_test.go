package erasure_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
	"mailsync/internal/erasure"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/relay"
)

// A job for alice@ex.com leaves nothing of hers in either store, whatever
// form her address took: a raw message's From list, a JSON from with a
// comment, a to item holding two addresses, spaces inside the angle
// brackets, a quoted local part, another case. Bob's own email stays.
func TestErasureMatchesEveryAddressForm(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	ctx := context.Background()
	svc := newIngest(pool)
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

	raw := "From: alice@ex.com, bob@example.net\r\nTo: support@example.org\r\nSubject: raw\r\n" +
		"Message-ID: <raw@ex.com>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\nHello from both.\r\n"
	parsed, err := ingest.ParseRaw([]byte(raw), ingest.Envelope{}, at)
	require.NoError(t, err)
	items := []ingest.Item{{Key: "raw", Fingerprint: "raw", Content: parsed.Content}}
	forms := []struct{ from, to string }{
		{"alice@ex.com (Alice Smith)", "support@example.org"},
		{"support@example.org", "bob@example.net, alice@ex.com"},
		{"< alice@ex.com >", "support@example.org"},
		{`"alice"@ex.com`, "support@example.org"},
		{`"Smith, Alice" <ALICE@EX.COM>`, "support@example.org"},
		{"bob@example.net", "support@example.org"}, // not hers: stays
	}
	for i, f := range forms {
		c := email.Content{MessageID: fmt.Sprintf("<%d@ex.com>", i), From: f.from, To: []string{f.to},
			Subject: "form", TextBody: "hi", ReceivedAt: at}
		c.Normalize()
		items = append(items, ingest.Item{Key: fmt.Sprint("f", i), Fingerprint: fmt.Sprint(i), Content: c})
	}
	res, err := svc.Ingest(ctx, "test", items)
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	rel := relay.New(pool, m, &relay.Config{BatchSize: 100, Lease: 30 * time.Second})
	drain := func() {
		for {
			n, err := rel.RunOnce(ctx, "t")
			require.NoError(t, err)
			if n == 0 {
				return
			}
		}
	}
	drain()
	require.Len(t, mongoDocsHolding(t, m, "alice"), 6)

	s := erasure.New(pool, &erasure.Config{Worker: "w"})
	addr := "alice@ex.com"
	job := startJob(t, s, "forms", erasure.Criteria{Address: &addr}, "")
	done := runJob(t, s, job.ID)
	require.Equal(t, erasure.StatusCompleted, done.Status)
	require.EqualValues(t, 6, done.Matched)
	require.EqualValues(t, 6, done.Erased)
	drain()

	require.Empty(t, tablesHolding(t, pool, "alice"), "PostgreSQL holds nothing of hers")
	require.Empty(t, mongoDocsHolding(t, m, "alice"), "MongoDB holds nothing of hers")
	var bobs int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM incoming_emails WHERE erased_at IS NULL AND from_address = 'bob@example.net'`).Scan(&bobs))
	require.Equal(t, 1, bobs)
	require.Len(t, mongoDocsHolding(t, m, "bob@example.net"), 1, "only Bob's own email is left of him")
}

// mongoDocsHolding returns the ids of the documents that hold needle
// (case-insensitively) anywhere.
func mongoDocsHolding(t *testing.T, m *mongostore.Store, needle string) []int64 {
	t.Helper()
	cur, err := m.Coll().Find(context.Background(), bson.D{})
	require.NoError(t, err)
	var out []int64
	for cur.Next(context.Background()) {
		js, err := bson.MarshalExtJSON(cur.Current, false, false)
		require.NoError(t, err)
		if strings.Contains(strings.ToLower(string(js)), strings.ToLower(needle)) {
			id, _ := cur.Current.Lookup("_id").AsInt64OK()
			out = append(out, id)
		}
	}
	require.NoError(t, cur.Err())
	return out
}
