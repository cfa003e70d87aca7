package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/relay"
)

// failure is one failed email a re-drive test sets up.
type failure struct {
	token, mailbox, err string
	failedAt            time.Duration // after the test's base time
}

// seedFailures ingests one email per failure (as its client, into its
// mailbox), waits until the relay synced them, then makes each failed for
// good at base+failedAt with its error and a dead outbox message, as the
// relay leaves a failure. It returns the emails' ids and base.
func seedFailures(t *testing.T, e *env, fs []failure) ([]int64, time.Time) {
	ctx := context.Background()
	base := time.Now().Add(-24 * time.Hour).UTC().Truncate(time.Second)
	ids := make([]int64, len(fs))
	for i, f := range fs {
		body := sampleEmail(9000 + i)
		body["mailbox"] = f.mailbox
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r := e.do(http.MethodPost, "/v1/emails", "application/json", b,
			"Idempotency-Key", "redrive-"+itoa(i), "Authorization", "Bearer "+f.token)
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
		ids[i] = int64(r.json(t)["id"].(float64))
	}
	for _, id := range ids {
		e.waitStatus(strconv.FormatInt(id, 10), "synced")
	}
	for i, f := range fs {
		if f.err == "" {
			continue // stays synced
		}
		_, err := e.pool.Exec(ctx, `UPDATE incoming_emails SET sync_status = 'failed', sync_error = $2, sync_retry_count = 3,
			sync_failed_at = $3 WHERE id = $1`, ids[i], f.err, base.Add(f.failedAt))
		require.NoError(t, err)
		_, err = e.pool.Exec(ctx, `INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, retry_count, max_retries, error_message, failed_at)
			VALUES ('email', $1, 'upsert', 3, 3, $2, $3)`, ids[i], f.err, base.Add(f.failedAt))
		require.NoError(t, err)
	}
	return ids, base
}

// failedIDs returns the ids of the failed emails, ascending.
func failedIDs(t *testing.T, e *env) []int64 {
	return dbtest.Column[int64](t, e.pool, `SELECT id FROM incoming_emails WHERE sync_status = 'failed' ORDER BY id`)
}

// listedIDs returns the email ids GET /v1/sync/failures lists with query q,
// over every page, ascending.
func listedIDs(t *testing.T, e *env, q url.Values) []int64 {
	var ids []int64
	q.Set("limit", "2") // several pages: the cursor keeps the filters
	for {
		r := e.do(http.MethodGet, "/v1/sync/failures?"+q.Encode(), "", nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		page := r.json(t)
		for _, it := range page["items"].([]any) {
			ids = append(ids, int64(it.(map[string]any)["email_id"].(float64)))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		q.Set("cursor", next)
	}
	slices.Sort(ids)
	return ids
}

func pick(ids []int64, idx ...int) []int64 {
	out := make([]int64, len(idx))
	for i, j := range idx {
		out[i] = ids[j]
	}
	slices.Sort(out)
	return out
}

// TestFilteredRedriveRedrivesExactlyTheMatchingFailures: failures differing
// in error, failure time, mailbox and client; a re-drive filtered on all of
// them re-enqueues exactly those matching every filter (which the relay
// then syncs), a dry run before it changes nothing and counts them, and
// the list with the same filters shows the same set.
func TestFilteredRedriveRedrivesExactlyTheMatchingFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	const refused = "mongodb refused document: Document failed validation (code 121)"
	ids, base := seedFailures(t, e, []failure{
		0: {tokenAll, "support", refused, 1 * time.Hour},                                                // failed too early
		1: {tokenAll, "support", refused, 5 * time.Hour},                                                // matches
		2: {tokenAll, "sales", refused, 5 * time.Hour},                                                  // other mailbox
		3: {tokenOther, "support", refused, 5 * time.Hour},                                              // other client
		4: {tokenAll, "support", "mongodb insert 3 documents: connection reset by peer", 5 * time.Hour}, // other error
		5: {tokenAll, "support", refused, 9 * time.Hour},                                                // failed too late
		6: {tokenAll, "support", "MongoDB refused document: DOCUMENT FAILED VALIDATION", 6 * time.Hour}, // matches, other case
		7: {tokenAll, "support", refused, 4 * time.Hour},                                                // matches, exactly at failed_after
		8: {tokenAll, "support", refused, 8 * time.Hour},                                                // exactly at failed_before: excluded
		9: {tokenAll, "support", "", 0},                                                                 // synced: never re-driven
	})
	after, before := base.Add(4*time.Hour).Format(time.RFC3339), base.Add(8*time.Hour).Format(time.RFC3339)
	want := pick(ids, 1, 6, 7)
	allFailed := pick(ids, 0, 1, 2, 3, 4, 5, 6, 7, 8)
	require.Equal(t, allFailed, failedIDs(t, e))

	q := url.Values{"mailbox": {"support"}, "client_id": {"ops"}, "error": {"failed VALIDATION"},
		"failed_after": {after}, "failed_before": {before}}
	require.Equal(t, want, listedIDs(t, e, q), "the list with the filters")
	require.Equal(t, allFailed, listedIDs(t, e, url.Values{}), "the list without filters")
	require.Equal(t, pick(ids, 4), listedIDs(t, e, url.Values{"error": {"CONNECTION reset"}}))
	require.Equal(t, pick(ids, 3), listedIDs(t, e, url.Values{"client_id": {"other"}}))
	require.Equal(t, pick(ids, 5, 8), listedIDs(t, e, url.Values{"failed_after": {before}}))

	filters := map[string]any{"mailbox": "support", "client_id": "ops", "error": "failed VALIDATION",
		"failed_after": after, "failed_before": before}
	redrive := func(dry bool) map[string]any {
		body := map[string]any{"dry_run": dry}
		for k, v := range filters {
			body[k] = v
		}
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r := e.do(http.MethodPost, "/v1/sync/failures/retry", "application/json", b)
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
		return r.json(t)
	}
	outbox := e.count(`SELECT count(*) FROM outbox_messages`)

	// The dry run counts and changes nothing.
	require.Equal(t, map[string]any{"matched": 3.0, "requeued": 0.0, "dry_run": true}, redrive(true))
	require.Equal(t, allFailed, failedIDs(t, e))
	require.Equal(t, outbox, e.count(`SELECT count(*) FROM outbox_messages`))
	require.Zero(t, e.count(`SELECT count(*) FROM audit_events WHERE action = 'sync.retry_failed'`))

	// The re-drive re-enqueues exactly the matching ones; the relay syncs them.
	require.Equal(t, map[string]any{"matched": 3.0, "requeued": 3.0, "dry_run": false}, redrive(false))
	require.Equal(t, outbox+3, e.count(`SELECT count(*) FROM outbox_messages`))
	for _, id := range want {
		e.waitStatus(strconv.FormatInt(id, 10), "synced")
	}
	require.Equal(t, pick(ids, 0, 2, 3, 4, 5, 8), failedIDs(t, e), "the failures left failed")
	require.Equal(t, pick(ids, 0, 2, 3, 4, 5, 8), listedIDs(t, e, url.Values{}))
	require.Empty(t, listedIDs(t, e, q))
	require.Equal(t, map[string]any{"matched": 0.0, "requeued": 0.0, "dry_run": true}, redrive(true))

	// The audit event records the filters and the count.
	events := e.do(http.MethodGet, "/v1/audit?action=sync.retry_failed", "", nil).json(t)["items"].([]any)
	require.Len(t, events, 1, "one re-drive, no event for the dry runs")
	details := events[0].(map[string]any)["details"].(map[string]any)
	require.EqualValues(t, 3, details["requeued"])
	for k, v := range filters {
		if k == "failed_after" || k == "failed_before" {
			at, err := time.Parse(time.RFC3339Nano, details[k].(string))
			require.NoError(t, err, k)
			require.Equal(t, v, at.UTC().Format(time.RFC3339), k)
			continue
		}
		require.Equal(t, v, details[k], k)
	}
}

// TestBadRedriveFiltersAreRefusedAndChangeNothing: bad filters are 4xx
// problems on the list and the re-drive, and nothing is re-driven.
func TestBadRedriveFiltersAreRefusedAndChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	ids, _ := seedFailures(t, e, []failure{{tokenAll, "support", "mongodb refused document: x", time.Hour}})
	long := make([]byte, 1001)
	for i := range long {
		long[i] = 'x'
	}
	for what, c := range map[string]struct {
		query  string
		body   string
		status int
	}{
		"after equals before": {"failed_after=2026-11-27T10:00:00Z&failed_before=2026-11-27T10:00:00Z",
			`{"failed_after": "2026-11-27T10:00:00Z", "failed_before": "2026-11-27T10:00:00Z"}`, 422},
		"after later than before": {"failed_after=2026-11-28T10:00:00Z&failed_before=2026-11-27T10:00:00Z",
			`{"failed_after": "2026-11-28T10:00:00Z", "failed_before": "2026-11-27T10:00:00Z"}`, 422},
		"empty error":      {"error=", `{"error": ""}`, 422},
		"empty client":     {"client_id=", `{"client_id": ""}`, 422},
		"too long error":   {"error=" + string(long), `{"error": "` + string(long) + `"}`, 422},
		"not a time":       {"failed_after=yesterday", `{"failed_after": "yesterday"}`, 400},
		"NUL in error":     {"error=a%00b", `{"error": "a\u0000b"}`, 0},
		"dry_run not bool": {"", `{"dry_run": "yes"}`, 400},
	} {
		if c.query != "" {
			r := e.do(http.MethodGet, "/v1/sync/failures?"+c.query, "", nil)
			require.True(t, r.status >= 400 && r.status < 500, "%s: list got %d", what, r.status)
			if c.status != 0 {
				requireProblem(t, r, c.status, what+" (list)")
			}
		}
		r := e.do(http.MethodPost, "/v1/sync/failures/retry", "application/json", []byte(c.body))
		require.True(t, r.status >= 400 && r.status < 500, "%s: re-drive got %d: %s", what, r.status, r.body)
		if c.status != 0 {
			requireProblem(t, r, c.status, what+" (re-drive)")
		}
	}
	require.Equal(t, ids, failedIDs(t, e))
	require.Zero(t, e.count(`SELECT count(*) FROM audit_events WHERE action = 'sync.retry_failed'`))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM outbox_messages WHERE processed_at IS NULL`))
}

// TestFailureErrorsGroupsByError: the failures card's groups, by error
// pattern (digits written #), largest first, with the count of all failures
// and of those not listed; a group's pattern as the error filter selects
// exactly that group.
func TestFailureErrorsGroupsByError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	a, c := "mongodb refused document: a (code 121)", "lease overrun: c"
	sha := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	ids, _ := seedFailures(t, e, []failure{{tokenAll, "s", "email 12: headers: bad", 0}, {tokenAll, "s", a, 0},
		{tokenAll, "s", "email 7: headers: bad", 0}, {tokenAll, "s", c, 0}, {tokenAll, "s", "mongodb refused document: a (code 2)", 0},
		{tokenAll, "s", "email 123456: headers: bad", 0}, {tokenAll, "s", "blob " + sha + ": gone", 0}})
	_, err := e.pool.Exec(context.Background(), `UPDATE incoming_emails SET sync_error = NULL WHERE id = $1`, ids[6])
	require.NoError(t, err) // a failure with no error recorded
	get := func(q string) map[string]any {
		r := e.do(http.MethodGet, "/v1/sync/failures/errors"+q, "", nil, "Authorization", "Bearer "+tokenRead)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		return r.json(t)
	}
	group := func(pattern any, n float64) any { return map[string]any{"error": pattern, "count": n} }
	headers, refused := "email #: headers: bad", "mongodb refused document: a (code #)"
	require.Equal(t, map[string]any{"items": []any{group(headers, 3), group(refused, 2), group(c, 1), group(nil, 1)},
		"failed": 7.0, "sampled": 7.0, "other": 0.0}, get(""))
	require.Equal(t, map[string]any{"items": []any{group(headers, 3)}, "failed": 7.0, "sampled": 7.0, "other": 4.0}, get("?limit=1"))
	requireProblem(t, e.do(http.MethodGet, "/v1/sync/failures/errors?limit=101", "", nil), 400, "limit above 100")
	requireProblem(t, e.do(http.MethodGet, "/v1/sync/failures/errors?limit=0", "", nil), 400, "limit 0")

	// A group's pattern as the error filter selects that group: listed and
	// counted alike.
	for pattern, want := range map[string][]int64{headers: pick(ids, 0, 2, 5), refused: pick(ids, 1, 4), "CODE #)": pick(ids, 1, 4)} {
		require.Equal(t, want, listedIDs(t, e, url.Values{"error": {pattern}}), pattern)
		b, err := json.Marshal(map[string]any{"error": pattern, "dry_run": true})
		require.NoError(t, err)
		r := e.do(http.MethodPost, "/v1/sync/failures/retry", "application/json", b)
		require.Equal(t, http.StatusAccepted, r.status)
		require.EqualValues(t, len(want), r.json(t)["matched"], pattern)
	}
	blob := "blob " + sha[:40] + ": gone" // 32 hex digits or more are one #
	_, err = e.pool.Exec(context.Background(), `UPDATE incoming_emails SET sync_error = $2 WHERE id = $1`, ids[6], blob)
	require.NoError(t, err)
	require.Equal(t, pick(ids, 6), listedIDs(t, e, url.Values{"error": {"blob #: gone"}}))
}

// TestFailureErrorsWithNoFailures: no groups, zero counts.
func TestFailureErrorsWithNoFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	r := e.do(http.MethodGet, "/v1/sync/failures/errors", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, map[string]any{"items": []any{}, "failed": 0.0, "sampled": 0.0, "other": 0.0}, r.json(t))
}

// TestFailureErrorsCountTheNewestFailures: beyond the sample, the groups
// count the newest failures only, and say so; failed is still all of them.
func TestFailureErrorsCountTheNewestFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	_, err := e.pool.Exec(context.Background(), `INSERT INTO incoming_emails
		(client_id, message_id, from_address, to_addresses, received_at, sync_status, sync_error)
		SELECT 'ops', '<' || g || '@x>', 'a@x', '{b@x}', now(), 'failed',
		       CASE WHEN g <= 3 THEN 'old error ' || g ELSE 'new error ' || g END
		FROM generate_series(1, $1::int + 3) g`, relay.FailureSample)
	require.NoError(t, err)
	r := e.do(http.MethodGet, "/v1/sync/failures/errors", "", nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, map[string]any{"items": []any{map[string]any{"error": "new error #", "count": float64(relay.FailureSample)}},
		"failed": float64(relay.FailureSample + 3), "sampled": float64(relay.FailureSample), "other": 0.0}, r.json(t))
}

// TestRelayRecordsWhenAnEmailFailed: a failure the relay records carries
// the time its message died, which the list shows and the time filters use.
func TestRelayRecordsWhenAnEmailFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	ctx := context.Background()
	r := e.postEmail("relay-fail", sampleEmail(1))
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	id := int64(r.json(t)["id"].(float64))
	e.waitStatus(strconv.FormatInt(id, 10), "synced")
	_, err := e.pool.Exec(ctx, `UPDATE incoming_emails SET headers = '42' WHERE id = $1`, id) // refused by the relay
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, e.do(http.MethodPost, "/v1/emails/"+strconv.FormatInt(id, 10)+"/sync/retry", "", nil).status)
	e.waitStatus(strconv.FormatInt(id, 10), "failed")
	// A later change of the row moves updated_at, not the failure time.
	_, err = e.pool.Exec(ctx, `UPDATE incoming_emails SET labels = '{later}' WHERE id = $1`, id)
	require.NoError(t, err)

	var failedAt, died, updated time.Time
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT e.sync_failed_at, e.updated_at, (SELECT max(o.failed_at) FROM outbox_messages o
		WHERE o.aggregate_type = 'email' AND o.aggregate_id = e.id) FROM incoming_emails e WHERE e.id = $1`, id).Scan(&failedAt, &updated, &died))
	require.True(t, failedAt.Equal(died), "sync_failed_at %s, the message died at %s", failedAt, died)
	require.True(t, updated.After(failedAt))
	items := e.do(http.MethodGet, "/v1/sync/failures", "", nil).json(t)["items"].([]any)
	require.Len(t, items, 1)
	shown, err := time.Parse(time.RFC3339Nano, items[0].(map[string]any)["failed_at"].(string))
	require.NoError(t, err)
	require.True(t, shown.Equal(failedAt), "failed_at shown %s", shown)
	after := failedAt.Add(time.Microsecond).Format(time.RFC3339Nano)
	require.Empty(t, listedIDs(t, e, url.Values{"failed_after": {after}}))
	require.Equal(t, []int64{id}, listedIDs(t, e, url.Values{"failed_after": {failedAt.Format(time.RFC3339Nano)}}))
}
