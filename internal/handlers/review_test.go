package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTwoAuthorizationHeadersAreRefused: with a read key and an admin key
// on two Authorization lines, the first one counted, so which key acted
// depended on the order a proxy or client wrote them. A request must carry
// one key. (Failed before: 200 with the first line's key.)
func TestTwoAuthorizationHeadersAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for _, keys := range [][2]string{{tokenAll, tokenRead}, {tokenRead, tokenAll}, {tokenAll, tokenAll}} {
		r := e.do(http.MethodGet, "/v1/sync/status", "", nil,
			"Authorization", "Bearer "+keys[0], "Authorization", "Bearer "+keys[1])
		require.Equal(t, http.StatusUnauthorized, r.status, string(r.body))
	}
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/sync/status", "", nil).status)
}

// TestRelayReasonIsBounded: the contract bounds a pause's reason to 500
// characters, but any length was stored (in relay_control, shown on every
// status read, and in the audit chain). Now a longer one is a 422 naming
// the field and changes nothing. (Failed before: 200, paused.)
func TestRelayReasonIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for _, path := range []string{"/v1/relay/pause", "/v1/relay/resume"} {
		r := e.do(http.MethodPost, path, "application/json", []byte(`{"reason":"`+strings.Repeat("x", 501)+`"}`))
		require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.body))
		require.Contains(t, string(r.body), `"field":"reason"`)
	}
	require.Zero(t, e.count(`SELECT count(*) FROM relay_control WHERE paused`))
	require.Zero(t, e.count(`SELECT count(*) FROM audit_events WHERE action LIKE 'relay.%'`))
	r := e.do(http.MethodPost, "/v1/relay/pause", "application/json", []byte(`{"reason":"`+strings.Repeat("é", 500)+`"}`))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
}

// TestHeadIsAnsweredAsGet: HEAD was a 405 on every route, /healthz and
// /readyz included, which load balancers probe with HEAD. It is answered as
// the GET, without a body, under the GET's access rule. (Failed before:
// 405.)
func TestHeadIsAnsweredAsGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	id := e.create("head-1", sampleEmail(1))
	for path, want := range map[string]int{"/healthz": 200, "/v1/emails/" + itoa(int(id)): 200, "/v1/sync/status": 200,
		"/v1/relay/pause": 405, "/v1/emails/999999": 404} {
		r := e.do(http.MethodHead, path, "", nil)
		require.Equal(t, want, r.status, path)
		require.Empty(t, r.body, path)
	}
	r := e.do(http.MethodHead, "/v1/emails/"+itoa(int(id)), "", nil, "Authorization", "")
	require.Equal(t, http.StatusUnauthorized, r.status, "the GET's access rule")
	r = e.do(http.MethodHead, "/v1/audit", "", nil, "Authorization", "Bearer "+tokenRead)
	require.Equal(t, http.StatusForbidden, r.status, "the GET's scope")
}
