package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/relay"
	"mailsync/internal/testwait"
)

// TestIndexRowTooLargeFailsOnlyThatEmail: a message_id of about 1,000
// multibyte characters passes validation, but FerretDB refuses the document
// with an InternalError ("index row size ... exceeds btree maximum"). That
// is about the document, not the store: the email must end failed with the
// cause while the rest of the backlog syncs (the relay used to take it for
// an outage and probe forever).
func TestIndexRowTooLargeFailsOnlyThatEmail(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	require.NoError(t, m.EnsureIndexes(context.Background())) // as the server does at start
	r := relay.New(pool, m, fastConfig())
	svc := newIngest(pool, r)
	ingestN(t, svc, 0, 20)
	big := content(999)
	// 2,690 bytes, varied so nothing compresses them: PostgreSQL's own
	// index on message_id takes it, FerretDB's index entry (a few bytes
	// longer) does not.
	var id strings.Builder
	for i := range 892 {
		id.WriteRune(rune(0x4E00 + i*7919%20000)) // 3 bytes each
	}
	big.MessageID = "<x" + id.String() + "@relay.test>"
	big.Normalize()
	require.Len(t, big.MessageID, 2690)
	_, err := svc.Ingest(context.Background(), "test", []ingest.Item{{Key: "big", Fingerprint: "big", Content: big}})
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Stop(context.Background())) }()
	testwait.Until(t, 30*time.Second, "the big email failed and the others synced", func() bool {
		return count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`) == 20 &&
			count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'failed'`) == 1
	})
	var msg string
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT sync_error FROM incoming_emails WHERE idempotency_key = 'big'`).Scan(&msg))
	require.Contains(t, msg, "exceeds btree")
	require.Equal(t, 20, docCount(t, m))
}
