package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"mailsync/internal/auth"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/erasure"
	"mailsync/internal/handlers"
	"mailsync/internal/ingest"
	"mailsync/internal/metrics"
	"mailsync/internal/mongostore"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/reconcile"
	"mailsync/internal/relay"
)

// Tokens of the test keys.
const (
	tokenAll    = "all-scopes-token-0001"
	tokenIngest = "ingest-only-token-001"
	tokenRead   = "read-only-token-00001"
	tokenOther  = "other-client-token-01"
	tokenRival  = "rival-ingest-token-01" // another client's ingest-only key
	tokenAdmin  = "admin-only-token-0001"
)

type env struct {
	t     testing.TB
	url   string
	pool  *pgxpool.Pool
	mongo *mongostore.Store
	relay *relay.Relay
}

// slowRequestTimeout is the request timeout of tests that check what is
// stored, not how fast: big or many-item requests that, on a machine busy
// with the whole suite under -race, can outlast the default and get the 503
// a real client would retry.
const slowRequestTimeout = time.Minute

type envOpts struct {
	relay     bool // start the relay workers
	rateLimit handlers.RateLimit
	// pool replaces the test's own database (e.g. one reached through a proxy).
	pool *pgxpool.Pool
	// requestTimeout is RouterConfig.RequestTimeout.
	requestTimeout time.Duration
	// serve starts the router and returns its base URL (httptest.NewServer).
	serve    func(t testing.TB, h http.Handler) string
	now      func() time.Time // the handlers' clock (time.Now when nil)
	inflight int64            // RouterConfig.MaxInflightBodyBytes
	// inflightWait is RouterConfig.InflightWait.
	inflightWait time.Duration
	maxBody      int64 // RouterConfig.MaxBodyBytes (1 MiB when 0)
	// ingest, when set, changes the ingest service's configuration.
	ingest func(*ingest.Config)
	auth   *ingest.AuthConfig // Config.Auth
}

// newEnv starts the whole HTTP surface on a kernel-chosen port, over a fresh
// PostgreSQL database and a fresh MongoDB database.
func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	pool := o.pool
	if pool == nil {
		pool, _ = dbtest.New(t)
	}
	mongo, _ := mongotest.NewStore(t)
	require.NoError(t, mongo.EnsureIndexes(context.Background()))
	workers := 0
	if o.relay {
		workers = 2
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	reg.MustRegister(metrics.NewCollector(pool))
	rel := relay.New(pool, mongo, &relay.Config{Workers: workers, BatchSize: 50, MaxRetries: 3,
		BackoffBase: 50 * time.Millisecond, PollInterval: 100 * time.Millisecond, Metrics: m})
	if o.relay {
		require.NoError(t, rel.Start(context.Background()))
		t.Cleanup(func() { require.NoError(t, rel.Stop(context.Background())) })
	}
	rec := reconcile.New(pool, mongo, &reconcile.Config{Wake: rel.Notify})
	t.Cleanup(func() { stopAtOnce(t, rec) })
	keys, err := auth.ParseKeys("ops:" + tokenAll + ":ingest+read+admin,mta:" + tokenIngest + ":ingest," +
		"viewer:" + tokenRead + ":read,other:" + tokenOther + ":ingest+read,rival:" + tokenRival + ":ingest,root:" + tokenAdmin + ":admin")
	require.NoError(t, err)
	eraser := erasure.New(pool, &erasure.Config{MaxRetries: 3, Wake: rel.Notify, PollInterval: 50 * time.Millisecond, BatchSize: 7})
	require.NoError(t, eraser.Start(context.Background()))
	t.Cleanup(func() { stopAtOnce(t, eraser) })
	icfg := &ingest.Config{Render: handlers.RenderEmail, MaxRetries: 3, Committed: func(int) { rel.Notify() }, Metrics: m}
	if o.ingest != nil {
		o.ingest(icfg)
	}
	h := handlers.New(&handlers.Config{
		Pool: pool, Mongo: mongo, Reader: ingest.NewReader(pool), Reconciler: rec, Now: o.now, Erasure: eraser, Auth: o.auth,
		Sync: relay.NewAdmin(pool, workers, 3, rel.Notify), Ingest: ingest.NewService(pool, icfg),
	})
	if o.maxBody == 0 {
		o.maxBody = 1 << 20
	}
	router, err := handlers.Router(h, handlers.RouterConfig{Keys: keys, MaxBodyBytes: o.maxBody, Gatherer: reg, Registerer: reg, RateLimit: o.rateLimit,
		RequestTimeout: o.requestTimeout, MaxInflightBodyBytes: o.inflight, InflightWait: o.inflightWait})
	require.NoError(t, err)
	if o.serve == nil {
		o.serve = func(t testing.TB, h http.Handler) string {
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			return srv.URL
		}
	}
	return &env{t: t, url: o.serve(t, router), pool: pool, mongo: mongo, relay: rel}
}

// stopAtOnce stops s cutting off its work in flight at once (a test may
// have left PostgreSQL black-holed, and its runs and batches would never
// finish), and waits for its goroutines to be gone.
func stopAtOnce(t testing.TB, s interface{ Stop(context.Context) error }) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Stop(ctx) // an error says what was cut off
	require.NoError(t, s.Stop(context.Background()))
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

// do sends one request; headers alternate name, value. An empty value
// removes the header; a name given again sends another line of it.
func (e *env) do(method, path, contentType string, body []byte, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	require.NoError(e.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+tokenAll)
	given := map[string]bool{}
	for i := 0; i+1 < len(headers); i += 2 {
		name := http.CanonicalHeaderKey(headers[i])
		switch {
		case headers[i+1] == "":
			req.Header.Del(name)
		case given[name]:
			req.Header.Add(name, headers[i+1])
		default:
			req.Header.Set(name, headers[i+1])
		}
		given[name] = true
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (e *env) postEmail(key string, body any) response {
	e.t.Helper()
	b, err := json.Marshal(body)
	require.NoError(e.t, err)
	return e.do(http.MethodPost, "/v1/emails", "application/json", b, "Idempotency-Key", key)
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// sampleEmail is a valid email JSON body; n makes it distinct.
func sampleEmail(n int) map[string]any {
	return map[string]any{
		"message_id":  "<" + time.Now().Format("20060102") + "." + itoa(n) + "@mail.example.com>",
		"mailbox":     "support",
		"from":        "Alice <alice@example.com>",
		"to":          []string{"support@example.org"},
		"cc":          []string{},
		"subject":     "Order " + itoa(n),
		"text_body":   "Hello",
		"html_body":   "<p>Hello</p>",
		"headers":     map[string][]string{"X-Spam-Score": {"0.1"}},
		"attachments": []map[string]any{{"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": 1234, "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}},
		"received_at": "2026-11-27T10:00:00Z",
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// with returns e reporting to t (a fuzz target's own T, say).
func (e *env) with(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}
