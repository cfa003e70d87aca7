package handlers_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/handlers"
)

// TestSlowBodyIsTheClients: a body that does not arrive before the read
// deadline is answered 408 and counted as such, never as a 5xx.
func TestSlowBodyIsTheClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{serve: func(t testing.TB, h http.Handler) string {
		srv := httptest.NewUnstartedServer(h)
		srv.Config.ReadTimeout = 500 * time.Millisecond
		srv.Start()
		t.Cleanup(srv.Close)
		return srv.URL
	}})
	for _, path := range []string{"/v1/emails/batch", "/v1/emails"} {
		head := "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nIdempotency-Key: slow\r\n" +
			"Authorization: Bearer " + tokenAll + "\r\nContent-Length: 100\r\n\r\n"
		resp := rawRequest(t, e.url, head, []byte(`{"emails":`))
		require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, path)
	}
	metrics := string(e.do(http.MethodGet, "/metrics", "", nil).body)
	require.Regexp(t, `mailsync_http_requests_total\{method="POST",route="/v1/emails/batch",status="408"\} 1`, metrics)
	require.NotRegexp(t, regexp.MustCompile(`status="5\d\d"`), metrics)
	require.Equal(t, 0, e.count(`SELECT count(*) FROM incoming_emails`))
}

// TestConnectionCap: the server never holds more than MaxConnections, and
// idle keep-alive connections make room for new clients instead of
// locking them out.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	var srv *handlers.Server
	e := newEnv(t, envOpts{serve: func(t testing.TB, h http.Handler) string {
		srv = handlers.NewServer(h, handlers.ServerConfig{MaxConnections: 4})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		return "http://" + ln.Addr().String()
	}})
	for i := range 12 {
		tr := &http.Transport{MaxIdleConnsPerHost: 1}
		t.Cleanup(tr.CloseIdleConnections)
		client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		resp, err := client.Get(e.url + "/healthz")
		require.NoError(t, err, "client %d", i)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.LessOrEqual(t, srv.OpenConnections(), 4)
	}
}
