package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/api"
	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/testwait"
)

// newProxiedEnv is an env whose pool reaches its own database through a
// dbtest.Proxy.
func newProxiedEnv(t *testing.T, requestTimeout time.Duration) (*env, *dbtest.Proxy) {
	return newProxiedEnvWith(t, envOpts{requestTimeout: requestTimeout})
}

// newProxiedEnvWith is newProxiedEnv with more options (o.pool is set here).
func newProxiedEnvWith(t *testing.T, o envOpts) (*env, *dbtest.Proxy) {
	p, proxied := dbtest.ProxyURL(t, dbtest.NewURL(t))
	pool, err := db.Open(context.Background(), proxied, 10)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	o.pool = pool
	e := newEnv(t, o)
	// Warm the pool so the black-hole case also covers pooled connections.
	for range 3 {
		require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/sync/status", "", nil).status)
	}
	return e, p
}

// everyOperation sends a valid request to each operation of the contract
// and hands each answer to check.
func everyOperation(t *testing.T, e *env, check func(op string, r response)) {
	swagger, err := api.GetSwagger()
	require.NoError(t, err)
	email, _ := json.Marshal(sampleEmail(1))
	batch, _ := json.Marshal(map[string]any{"emails": []map[string]any{{"idempotency_key": "o-1", "email": sampleEmail(2)}}})
	bodies := map[string][]byte{"POST /v1/emails": email, "POST /v1/emails/batch": batch,
		"POST /v1/erasures": []byte(`{"address":"a@example.com"}`), "PATCH /v1/emails/{id}": []byte(`{"mailbox":"m"}`)}
	for path, item := range swagger.Paths.Map() {
		for method := range item.Operations() {
			op := method + " " + path
			body, ct := bodies[op], "application/json"
			if body == nil && (method == http.MethodPost || method == http.MethodDelete) {
				body = []byte(`{}`)
			}
			if body == nil {
				ct = ""
			}
			check(op, e.do(method, strings.NewReplacer("{id}", "1", "{index}", "0").Replace(path), ct, body, "Idempotency-Key", "outage-1", "If-Match", `"1"`))
		}
	}
}

func requireStoreDown(t *testing.T, e *env) {
	t.Helper()
	checked := 0
	everyOperation(t, e, func(op string, r response) {
		switch op {
		case "GET /healthz":
			require.Equal(t, http.StatusOK, r.status)
		case "GET /readyz":
			require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.body))
			require.NotEmpty(t, r.header.Get("Retry-After"))
			checks := r.json(t)["checks"].(map[string]any)
			require.Equal(t, "unreachable", checks["postgresql"])
			require.Equal(t, "ok", checks["mongodb"], "only the store that is down is named")
		default:
			checked++
			require.Equal(t, http.StatusServiceUnavailable, r.status, "%s: %s", op, r.body)
			require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), op)
			require.NotEmpty(t, r.header.Get("Retry-After"), op)
		}
	})
	require.GreaterOrEqual(t, checked, 12)
}

// TestPostgresRefusingIs503: with PostgreSQL down, every route that needs
// it answers 503 + Retry-After (never 500, never a 400 blaming the body).
func TestPostgresRefusingIs503(t *testing.T) {
	t.Parallel()
	e, p := newProxiedEnv(t, time.Second)
	p.Refuse()
	requireStoreDown(t, e)
}

// TestPostgresBlackHoledIs503: with PostgreSQL silent, requests end with a
// 503 at their deadline instead of hanging.
func TestPostgresBlackHoledIs503(t *testing.T) {
	t.Parallel()
	e, p := newProxiedEnv(t, time.Second)
	p.BlackHole()
	requireStoreDown(t, e)
}

// TestClientGoneIsNot5xx: a client that gives up on a request waiting for
// a silent store is not counted as a server error.
func TestClientGoneIsNot5xx(t *testing.T) {
	t.Parallel()
	// started tells when the server handles the abandoned request (other
	// holders of a pool connection, such as background pollers, make the
	// pool's counts no sign of it).
	started := make(chan struct{}, 1)
	serve := func(t testing.TB, h http.Handler) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Abandoned") != "" {
				started <- struct{}{}
			}
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	e, p := newProxiedEnvWith(t, envOpts{requestTimeout: time.Minute, serve: serve})
	p.BlackHole()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/v1/sync/status", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tokenAll)
	req.Header.Set("X-Abandoned", "1")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		done <- err
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the request never reached the server")
	}
	// Give the handler a moment to block on the silent PostgreSQL; a
	// cancellation even before that is the same client gone.
	testwait.Until(t, 30*time.Second, "a request to wait on PostgreSQL", func() bool { return e.pool.Stat().AcquiredConns() > 0 })
	cancel()
	require.Error(t, <-done)
	testwait.Until(t, 30*time.Second, "the abandoned request to be counted as 499", func() bool {
		return strings.Contains(string(e.do(http.MethodGet, "/metrics", "", nil).body), `route="/v1/sync/status",status="499"`)
	})
	require.NotRegexp(t, `status="5\d\d"`, string(e.do(http.MethodGet, "/metrics", "", nil).body))
}
