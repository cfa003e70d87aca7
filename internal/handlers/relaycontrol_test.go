package handlers_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRelayPauseAndResumeOverHTTP: pause is shown by /v1/sync/status with
// who and since when, a misspelled member is refused and changes nothing,
// and both changes are audited; an email ingested while paused stays
// pending until resume.
func TestRelayPauseAndResumeOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	admin := []string{"Authorization", bearer(tokenAdmin)}

	bad := e.do(http.MethodPost, "/v1/relay/pause", "application/json", []byte(`{"reson": "typo"}`), admin...)
	require.Equal(t, http.StatusUnprocessableEntity, bad.status, string(bad.body))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM relay_control WHERE paused`), "nothing changed")
	require.Equal(t, 0, e.count(`SELECT count(*) FROM audit_events`))

	r := e.do(http.MethodPost, "/v1/relay/pause", "application/json", []byte(`{"reason": "MongoDB maintenance"}`), admin...)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	body := r.json(t)
	require.Equal(t, true, body["paused"])
	require.Equal(t, "root", body["paused_by"])
	require.Equal(t, "MongoDB maintenance", body["reason"])
	require.NotNil(t, body["paused_since"])

	id := e.createAs(tokenIngest, "while-paused")
	st := e.do(http.MethodGet, "/v1/sync/status", "", nil, "Authorization", bearer(tokenRead))
	require.Equal(t, http.StatusOK, st.status, string(st.body))
	relay := st.json(t)["relay"].(map[string]any)
	require.Equal(t, true, relay["paused"])
	require.Equal(t, "root", relay["paused_by"])
	require.Equal(t, body["paused_since"], relay["paused_since"])
	require.Equal(t, 1, e.count(`SELECT count(*) FROM incoming_emails WHERE id = $1 AND sync_status = 'pending'`, id))

	r = e.do(http.MethodPost, "/v1/relay/resume", "", nil, admin...)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, false, r.json(t)["paused"])
	require.Nil(t, r.json(t)["paused_by"])
	e.waitSynced(id)
	st = e.do(http.MethodGet, "/v1/sync/status", "", nil, "Authorization", bearer(tokenRead))
	require.Equal(t, false, st.json(t)["relay"].(map[string]any)["paused"])
	require.Equal(t, 2, e.count(`SELECT count(*) FROM audit_events WHERE action IN ('relay.pause', 'relay.resume') AND client_id = 'root'`))
}
