package handlers_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEveryChangeIsAuditedInItsTransaction: every change made through the
// API writes its audit event in the transaction of the change, whoever
// makes it, so a change whose event cannot be written does not happen.
// With audit_events refusing inserts, each change fails and leaves
// everything as it was; once they are accepted again, each change is
// recorded with the client that made it. (Failed before: re-drives and
// reconciliation starts recorded their event afterwards, in a transaction
// of their own, and answered 202 when it failed.)
func TestEveryChangeIsAuditedInItsTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	id := e.createAs(tokenIngest, "audited-1")
	path := "/v1/emails/" + itoa(int(id))
	_, err := e.pool.Exec(ctx, `UPDATE incoming_emails SET sync_status = 'failed' WHERE id = $1`, id)
	require.NoError(t, err)

	changes := []struct {
		name, method, path, body, token, action string
		headers                                 []string
	}{
		{"patch by the owner's ingest key", http.MethodPatch, path, `{"labels":["a"]}`, tokenIngest, "email.patch", []string{"If-Match", `"1"`}},
		{"re-drive of one email", http.MethodPost, path + "/sync/retry", ``, tokenAdmin, "sync.retry", nil},
		{"re-drive of failed emails", http.MethodPost, "/v1/sync/failures/retry", `{}`, tokenAdmin, "sync.retry_failed", nil},
		{"reconciliation start", http.MethodPost, "/v1/reconciliations", `{"dry_run":true}`, tokenAdmin, "reconciliation.start", nil},
		{"erasure start", http.MethodPost, "/v1/erasures", `{"mailbox":"nowhere"}`, tokenAdmin, "erasure.start", []string{"Idempotency-Key", "a-1"}},
		{"erasure of one email", http.MethodDelete, path, `{"reason":"audit"}`, tokenAdmin, "email.erase", nil},
	}
	state := func() []int {
		return []int{
			e.count(`SELECT version FROM incoming_emails WHERE id = $1`, id),
			e.count(`SELECT count(*) FROM outbox_messages`),
			e.count(`SELECT count(*) FROM reconciliation_reports`),
			e.count(`SELECT count(*) FROM erasure_jobs`),
			e.count(`SELECT count(*) FROM incoming_emails WHERE erased_at IS NOT NULL`),
			e.count(`SELECT count(*) FROM incoming_emails WHERE sync_status = 'failed'`),
		}
	}

	_, err = e.pool.Exec(ctx, `CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'audit events refused by the test'; END $$;
		CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit()`)
	require.NoError(t, err)
	before := state()
	for _, c := range changes {
		r := e.do(c.method, c.path, "application/json", []byte(c.body), append(c.headers, "Authorization", bearer(c.token))...)
		require.GreaterOrEqual(t, r.status, 500, "%s without its audit event: %s", c.name, r.body)
		require.Equal(t, before, state(), "%s happened without its audit event", c.name)
	}

	_, err = e.pool.Exec(ctx, `DROP TRIGGER refuse_audit ON audit_events`)
	require.NoError(t, err)
	for _, c := range changes {
		r := e.do(c.method, c.path, "application/json", []byte(c.body), append(c.headers, "Authorization", bearer(c.token))...)
		require.Less(t, r.status, 300, "%s: %s", c.name, r.body)
		require.Equal(t, 1, e.count(`SELECT count(*) FROM audit_events WHERE action = $1 AND request_id = $2`,
			c.action, r.header.Get("X-Request-Id")), "%s is recorded once, with its request", c.name)
	}
	require.Equal(t, 1, e.count(`SELECT count(*) FROM audit_events WHERE action = 'email.patch' AND client_id = 'mta'`))
	require.Equal(t, 5, e.count(`SELECT count(*) FROM audit_events WHERE client_id = 'root'`))
}
