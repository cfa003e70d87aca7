package handlers_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCreateEmailFirstRequestAndReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	first := e.postEmail("key-1", sampleEmail(1))
	require.Equal(t, http.StatusCreated, first.status, string(first.body))
	id := int64(first.json(t)["id"].(float64))
	require.Equal(t, "/v1/emails/"+itoa(int(id)), first.header.Get("Location"))
	require.Equal(t, "key-1", first.header.Get("Idempotency-Key"))
	require.Equal(t, "false", first.header.Get("Idempotent-Replayed"))
	require.Equal(t, "pending", first.json(t)["sync_status"])

	again := e.postEmail("key-1", sampleEmail(1))
	require.Equal(t, http.StatusCreated, again.status)
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	require.Equal(t, "key-1", again.header.Get("Idempotency-Key"))
	require.JSONEq(t, string(first.body), string(again.body))

	require.Equal(t, 1, e.count(`SELECT count(*) FROM incoming_emails`))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM outbox_messages WHERE aggregate_id = $1`, id))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM idempotency_keys WHERE status = 'completed' AND resource_id = $1`, id))

	got := e.do(http.MethodGet, "/v1/emails/"+itoa(int(id)), "", nil)
	require.Equal(t, http.StatusOK, got.status)
	require.Equal(t, "Order 1", got.json(t)["subject"])
}

func TestCreateEmailKeyReuseWithDifferentBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	require.Equal(t, http.StatusCreated, e.postEmail("k", sampleEmail(1)).status)
	other := e.postEmail("k", sampleEmail(2))
	require.Equal(t, http.StatusUnprocessableEntity, other.status, string(other.body))
	require.Equal(t, "application/problem+json", other.header.Get("Content-Type"))
	require.Equal(t, "urn:mailsync:problem:key_reused", other.json(t)["type"])
	require.Equal(t, "k", other.header.Get("Idempotency-Key"))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM incoming_emails`))
}

func TestCreateEmailKeysAreScopedPerClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	require.Equal(t, http.StatusCreated, e.postEmail("shared", sampleEmail(1)).status)
	b := []byte(`{"message_id":"<x@y>","from":"a@b","to":["c@d"],"received_at":"2026-11-27T10:00:00Z"}`)
	other := e.do(http.MethodPost, "/v1/emails", "application/json", b, "Idempotency-Key", "shared", "Authorization", "Bearer "+tokenOther)
	require.Equal(t, http.StatusCreated, other.status, string(other.body))
	require.Equal(t, "other", other.json(t)["client_id"])
	require.Equal(t, 2, e.count(`SELECT count(*) FROM incoming_emails`))
}

func TestCreateEmailConcurrentDuplicatesStoreOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	const n = 50
	var wg sync.WaitGroup
	results := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.postEmail("same-key", sampleEmail(7))
		}()
	}
	wg.Wait()
	ids := map[any]bool{}
	for _, r := range results {
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
		ids[r.json(t)["id"]] = true
	}
	require.Len(t, ids, 1, "every response names the same email")
	require.Equal(t, 1, e.count(`SELECT count(*) FROM incoming_emails`))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM outbox_messages`))
}

func TestCreateEmailAfterCachedResponseExpired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	first := e.postEmail("old", sampleEmail(3))
	require.Equal(t, http.StatusCreated, first.status)
	ctx := context.Background()

	// Expired but not yet deleted by retention.
	_, err := e.pool.Exec(ctx, `UPDATE idempotency_keys SET expires_at = now() - interval '1 hour'`)
	require.NoError(t, err)
	same := e.postEmail("old", sampleEmail(3))
	require.Equal(t, http.StatusOK, same.status, string(same.body))
	require.Equal(t, first.json(t)["id"], same.json(t)["id"])
	require.Equal(t, http.StatusUnprocessableEntity, e.postEmail("old", sampleEmail(4)).status)

	// Deleted by retention: the email row's unique key still holds.
	_, err = e.pool.Exec(ctx, `DELETE FROM idempotency_keys`)
	require.NoError(t, err)
	same = e.postEmail("old", sampleEmail(3))
	require.Equal(t, http.StatusOK, same.status, string(same.body))
	require.Equal(t, first.json(t)["id"], same.json(t)["id"])
	_, err = e.pool.Exec(ctx, `DELETE FROM idempotency_keys`)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, e.postEmail("old", sampleEmail(4)).status)
	require.Equal(t, 1, e.count(`SELECT count(*) FROM incoming_emails`))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM outbox_messages`))
}

func TestCreateEmailFailedTransactionStoresNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	// A real failure inside the one write transaction: the outbox insert raises.
	_, err := e.pool.Exec(ctx, `
		CREATE FUNCTION fail_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$;
		CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox_messages FOR EACH ROW EXECUTE FUNCTION fail_outbox();`)
	require.NoError(t, err)
	failed := e.postEmail("k-fail", sampleEmail(5))
	require.Equal(t, http.StatusInternalServerError, failed.status)
	require.NotContains(t, string(failed.body), "injected", "internal errors are not leaked")
	require.Equal(t, 0, e.count(`SELECT count(*) FROM incoming_emails`))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM outbox_messages`))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM idempotency_keys`))

	_, err = e.pool.Exec(ctx, `DROP TRIGGER fail_outbox ON outbox_messages`)
	require.NoError(t, err)
	retry := e.postEmail("k-fail", sampleEmail(5))
	require.Equal(t, http.StatusCreated, retry.status, "the retry is a first request")
	require.Equal(t, "false", retry.header.Get("Idempotent-Replayed"))
}

func TestCreateEmailIdempotencyKeyHeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	body := []byte(`{"message_id":"<x@y>","from":"a@b","to":["c@d"],"received_at":"2026-11-27T10:00:00Z"}`)
	long := make([]byte, 256)
	for i := range long {
		long[i] = 'k'
	}
	for name, key := range map[string]string{
		"missing": "", "space inside": "a b", "non-ascii": "clé", "too long": string(long),
		"bad quoted": `"a"b"`, "empty quoted": `""`,
	} {
		r := e.do(http.MethodPost, "/v1/emails", "application/json", body, "Idempotency-Key", key)
		require.Equal(t, http.StatusBadRequest, r.status, name+": "+string(r.body))
		require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), name)
	}
	require.Equal(t, 0, e.count(`SELECT count(*) FROM incoming_emails`))
	quoted := e.do(http.MethodPost, "/v1/emails", "application/json", body, "Idempotency-Key", `"q-1"`)
	require.Equal(t, http.StatusCreated, quoted.status, string(quoted.body))
	bare := e.do(http.MethodPost, "/v1/emails", "application/json", body, "Idempotency-Key", "q-1")
	require.Equal(t, "true", bare.header.Get("Idempotent-Replayed"), "quoted and bare forms are one key")
}
