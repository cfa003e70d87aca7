package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"mailsync/internal/apperr"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
)

func testContent(i int) email.Content {
	c := email.Content{MessageID: fmt.Sprintf("<%d@ingest.test>", i), From: "a@example.com", To: []string{"b@example.com"},
		Subject: fmt.Sprintf("mail %d", i), TextBody: "hello", ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	c.Normalize()
	return c
}

// groupService is a Service whose groups close when max calls are queued
// (or after a long window), so concurrent calls land in one group.
func groupService(t *testing.T, max int) (*Service, *pgxpool.Pool, *atomic.Int32) {
	t.Helper()
	pool, _ := dbtest.New(t)
	var commits atomic.Int32
	svc := NewService(pool, &Config{
		Render: func(e email.Stored) ([]byte, error) {
			return json.Marshal(map[string]any{"id": e.ID, "subject": e.Subject})
		},
		Committed:   func(int) { commits.Add(1) },
		GroupWindow: 10 * time.Second, GroupMax: max,
	})
	return svc, pool, &commits
}

type outcome struct {
	r   Result
	err error
}

// concurrently calls IngestOne once per item from its own goroutine.
func concurrently(svc *Service, client string, items []Item) []outcome {
	out := make([]outcome, len(items))
	var wg sync.WaitGroup
	for i := range items {
		wg.Go(func() {
			out[i].r, out[i].err = svc.IngestOne(context.Background(), client, items[i])
		})
	}
	wg.Wait()
	return out
}

func count(t *testing.T, pool *pgxpool.Pool, sql string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), sql).Scan(&n))
	return n
}

func TestIngestOneCommitsConcurrentRequestsTogether(t *testing.T) {
	t.Parallel()
	const n = 24
	svc, pool, commits := groupService(t, n)
	items := make([]Item, n)
	for i := range items {
		items[i] = NewItem("c", fmt.Sprint("k", i), testContent(i))
	}
	for i, o := range concurrently(svc, "c", items) {
		require.NoError(t, o.err)
		require.Equal(t, http.StatusCreated, o.r.Status)
		require.False(t, o.r.Replayed)
		require.NotZero(t, o.r.ID)
		require.Equal(t, fmt.Sprintf("mail %d", i), o.r.Email.Subject, "each request gets its own email")
	}
	require.Equal(t, int32(1), commits.Load(), "one transaction for the whole group")
	require.Equal(t, n, count(t, pool, "SELECT count(*) FROM incoming_emails"))
	require.Equal(t, n, count(t, pool, "SELECT count(*) FROM outbox_messages"))
	require.Equal(t, n, count(t, pool, "SELECT count(*) FROM idempotency_keys WHERE status = 'completed'"))
}

func TestIngestOneDuplicatesInOneGroupActSequentially(t *testing.T) {
	t.Parallel()
	svc, pool, _ := groupService(t, 8)
	same := NewItem("c", "dup", testContent(1))
	items := []Item{same, same, same, NewItem("c", "dup", testContent(2)), same,
		NewItem("c", "other", testContent(3)), NewItem("d", "dup", testContent(1)), same}
	out := concurrently(svc, "c", items[:6])
	out = append(out, concurrently(svc, "d", items[6:7])...)
	// Whichever request under "dup" runs first stores its email: the
	// requests with the same body replay it, the ones with another body
	// are refused. The goroutines may join the group in any order.
	winner := -1
	for i, o := range out[:5] {
		require.NoError(t, o.err)
		if o.r.Err == nil && !o.r.Replayed {
			require.Equal(t, -1, winner, "one request stores the email")
			winner = i
		}
	}
	require.NotEqual(t, -1, winner, "one request stores the email")
	for i, o := range out[:5] {
		if items[i].Fingerprint != items[winner].Fingerprint {
			require.Equal(t, apperr.KeyReused, apperr.CodeOf(o.r.Err), "request %d has another body", i)
			continue
		}
		require.NoError(t, o.r.Err)
		require.Equal(t, http.StatusCreated, o.r.Status)
		require.Equal(t, out[winner].r.ID, o.r.ID, "every replay names the stored email")
	}
	require.Equal(t, 3, count(t, pool, "SELECT count(*) FROM incoming_emails"))
	require.Equal(t, 2, count(t, pool, "SELECT count(*) FROM incoming_emails WHERE idempotency_key = 'dup'"))
}

func TestIngestOneRefusalOrFailureOfOneRequestSparesTheOthers(t *testing.T) {
	t.Parallel()
	const n = 6
	svc, pool, _ := groupService(t, n)
	ctx := context.Background()
	_, err := svc.Ingest(ctx, "c", []Item{NewItem("c", "used", testContent(100))})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `
		CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.message_id = '<poison@ingest.test>' THEN RAISE EXCEPTION 'injected'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER poison BEFORE INSERT ON incoming_emails FOR EACH ROW EXECUTE FUNCTION poison();`)
	require.NoError(t, err)
	poison := testContent(0)
	poison.MessageID = "<poison@ingest.test>"
	items := []Item{NewItem("c", "used", testContent(101)), NewItem("c", "bad", poison)}
	for i := 2; i < n; i++ {
		items = append(items, NewItem("c", fmt.Sprint("ok", i), testContent(i)))
	}
	out := concurrently(svc, "c", items)
	require.NoError(t, out[0].err)
	require.Equal(t, apperr.KeyReused, apperr.CodeOf(out[0].r.Err), "a reused key is refused alone")
	require.Error(t, out[1].err, "the failing email fails alone")
	for _, o := range out[2:] {
		require.NoError(t, o.err)
		require.Equal(t, http.StatusCreated, o.r.Status)
	}
	require.Equal(t, n-1, count(t, pool, "SELECT count(*) FROM incoming_emails"))
	require.Equal(t, 0, count(t, pool, "SELECT count(*) FROM idempotency_keys WHERE key = 'bad'"))
}

func TestIngestOppositeKeyOrdersNeverDeadlock(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	svc := NewService(pool, &Config{Render: func(e email.Stored) ([]byte, error) { return []byte("{}"), nil }})
	const rounds, keys = 8, 300
	for round := range rounds {
		fwd, rev := make([]Item, keys), make([]Item, keys)
		for i := range fwd {
			it := NewItem("c", fmt.Sprintf("r%d-k%03d", round, i), testContent(i))
			fwd[i], rev[len(rev)-1-i] = it, it
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, items := range [][]Item{fwd, rev} {
			wg.Go(func() { _, errs[j] = svc.Ingest(context.Background(), "c", items) })
		}
		wg.Wait()
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
	}
	require.Equal(t, rounds*keys, count(t, pool, "SELECT count(*) FROM incoming_emails"))
}

func TestIngestRecognisesFingerprintsOfEarlierReleases(t *testing.T) {
	t.Parallel()
	svc, pool, _ := groupService(t, 1)
	ctx := context.Background()
	it := NewItem("c", "k", testContent(1))
	first, err := svc.IngestOne(ctx, "c", it)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "UPDATE idempotency_keys SET request_fingerprint = $1", it.legacy(&it))
	require.NoError(t, err)
	again, err := svc.IngestOne(ctx, "c", NewItem("c", "k", testContent(1)))
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, first.Body, again.Body)
	other, err := svc.IngestOne(ctx, "c", NewItem("c", "k", testContent(2)))
	require.NoError(t, err)
	require.Equal(t, apperr.KeyReused, apperr.CodeOf(other.Err))
}
