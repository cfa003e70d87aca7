package handlers_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rawRequest writes head (and body) on a new connection and returns the
// response; the server must answer before the generous read deadline.
func rawRequest(t *testing.T, base, head string, body []byte) *http.Response {
	t.Helper()
	u, err := url.Parse(base)
	require.NoError(t, err)
	c, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	_, err = io.WriteString(c, head)
	require.NoError(t, err)
	_, err = c.Write(body)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err, "no answer")
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// TestAuthenticateBeforeReadingTheRequest: without a valid key the answer
// is 401 whatever the parameters and body hold, and the body is not even
// waited for.
func TestAuthenticateBeforeReadingTheRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for name, r := range map[string]response{
		"malformed JSON":        e.do(http.MethodPost, "/v1/emails", "application/json", []byte(`{"x":`), "Authorization", "", "Idempotency-Key", "k"),
		"no Idempotency-Key":    e.do(http.MethodPost, "/v1/emails", "application/json", []byte(`{}`), "Authorization", ""),
		"bad query":             e.do(http.MethodGet, "/v1/emails?limit=abc&x=%00", "", nil, "Authorization", "Bearer wrong-token-000000"),
		"invalid UTF-8 body":    e.do(http.MethodPost, "/v1/emails/batch", "application/json", []byte("\xff"), "Authorization", ""),
		"wrong media type":      e.do(http.MethodPost, "/v1/reconciliations", "text/plain", []byte("x"), "Authorization", ""),
		"bad id":                e.do(http.MethodGet, "/v1/emails/abc", "", nil, "Authorization", ""),
		"read key, admin route": e.do(http.MethodPost, "/v1/reconciliations", "text/plain", []byte("x"), "Authorization", "Bearer "+tokenRead),
	} {
		want := http.StatusUnauthorized
		if strings.HasPrefix(name, "read key") {
			want = http.StatusForbidden
		}
		require.Equal(t, want, r.status, "%s: %s", name, r.body)
	}

	// Half of a 500 kB upload: the 401 comes without the rest.
	head := fmt.Sprintf("POST /v1/emails HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Idempotency-Key: big\r\nContent-Length: %d\r\n\r\n", 500_000)
	resp := rawRequest(t, e.url, head, []byte(strings.Repeat(" ", 250_000)))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	// Nor does a declared size over MAX_BODY_BYTES tell it anything but 401.
	resp = rawRequest(t, e.url, strings.Replace(head, "500000", "5000000", 1), nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, 0, e.count(`SELECT count(*) FROM incoming_emails`))
}

// TestBearerSchemeIsCaseInsensitive follows RFC 7235: "bearer" and
// "BEARER" name the same scheme.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for _, scheme := range []string{"bearer", "BEARER", "Bearer", "bEaReR"} {
		r := e.do(http.MethodGet, "/v1/sync/status", "", nil, "Authorization", scheme+"  "+tokenRead)
		require.Equal(t, http.StatusOK, r.status, "%s: %s", scheme, r.body)
	}
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/v1/sync/status", "", nil, "Authorization", "Bearer").status)
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/v1/sync/status", "", nil, "Authorization", "Bearertoken "+tokenRead).status)
}
