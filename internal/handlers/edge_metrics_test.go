package handlers_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMetricLabelsAreBounded: methods a client makes up do not become
// series; they all count as OTHER.
func TestMetricLabelsAreBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for i := range 40 {
		method := "M" + itoa(i*7919)
		r := e.do(method, "/v1/emails", "", nil)
		require.Equal(t, http.StatusMethodNotAllowed, r.status, method)
		e.do(method, "/nowhere/"+itoa(i), "", nil)
	}
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/sync/status", "", nil).status)
	body := string(e.do(http.MethodGet, "/metrics", "", nil).body)
	known := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true,
		"OPTIONS": true, "CONNECT": true, "TRACE": true, "OTHER": true}
	methods := map[string]bool{}
	routes := map[string]bool{}
	for _, m := range regexp.MustCompile(`mailsync_http_requests_total\{method="([^"]*)",route="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		require.True(t, known[m[1]], "method label %q", m[1])
		methods[m[1]] = true
		routes[m[2]] = true
	}
	require.True(t, methods["OTHER"], body)
	require.True(t, methods["GET"], body)
	require.LessOrEqual(t, len(routes), 4, "routes %v", routes)
}
