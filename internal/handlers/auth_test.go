package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"mailsync/internal/api"
	"mailsync/internal/handlers"
)

// TestEveryEndpointChecksKeyAndScope walks every operation of the contract:
// no key and a wrong key get 401, a key without the scope 403, and a key
// with exactly that scope gets past authentication.
func TestEveryEndpointChecksKeyAndScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	swagger, err := api.GetSwagger()
	require.NoError(t, err)
	right := map[string]string{"ingest": tokenIngest, "read": tokenRead, "admin": tokenAll}
	wrong := map[string]string{"ingest": tokenRead, "read": tokenIngest, "admin": tokenRead}
	checked := 0
	for path, item := range swagger.Paths.Map() {
		for method, op := range item.Operations() {
			url := strings.ReplaceAll(path, "{id}", "1")
			scope, guarded := op.Extensions["x-required-scope"].(string)
			if !guarded {
				r := e.do(method, url, "", nil, "Authorization", "")
				require.Contains(t, []int{200, 503}, r.status, "%s %s is open", method, path)
				continue
			}
			checked++
			body, ct := []byte(`{}`), "application/json"
			for name, auth := range map[string]string{"no key": "", "wrong key": "Bearer not-a-real-token-000", "not bearer": "Basic " + tokenAll} {
				r := e.do(method, url, ct, body, "Authorization", auth, "Idempotency-Key", "auth-test")
				require.Equal(t, http.StatusUnauthorized, r.status, "%s %s with %s", method, path, name)
				require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
				require.NotEmpty(t, r.header.Get("WWW-Authenticate"))
			}
			r := e.do(method, url, ct, body, "Authorization", "Bearer "+wrong[scope], "Idempotency-Key", "auth-test")
			if _, owned := op.Extensions["x-owner-scope"]; !owned || scope != "read" { // TestAccessMatrix has the rest
				require.Equal(t, http.StatusForbidden, r.status, "%s %s without scope %s", method, path, scope)
			}
			r = e.do(method, url, ct, body, "Authorization", "Bearer "+right[scope], "Idempotency-Key", "auth-test")
			require.NotContains(t, []int{401, 403}, r.status, "%s %s with scope %s: %s", method, path, scope, r.body)
			require.Less(t, r.status, 500, "%s %s with scope %s: %s", method, path, scope, r.body)
		}
	}
	require.GreaterOrEqual(t, checked, 12)
	for _, open := range []string{"/healthz", "/metrics", "/openapi.json", "/openapi.yaml", "/docs"} {
		r := e.do(http.MethodGet, open, "", nil, "Authorization", "")
		require.Equal(t, http.StatusOK, r.status, open)
	}
}

func TestRateLimitPerClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{rateLimit: handlers.RateLimit{RPS: 0.5, Burst: 3}})
	statuses := []int{}
	for range 5 {
		statuses = append(statuses, e.do(http.MethodGet, "/v1/sync/status", "", nil).status)
	}
	require.Equal(t, []int{200, 200, 200, 429, 429}, statuses)
	r := e.do(http.MethodGet, "/v1/sync/status", "", nil)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.NotEmpty(t, r.header.Get("Retry-After"))
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	// Another client has its own bucket.
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/sync/status", "", nil, "Authorization", "Bearer "+tokenRead).status)
}
