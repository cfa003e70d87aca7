package lmtp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
	"mailsync/internal/handlers"
	"mailsync/internal/ingest"
	"mailsync/internal/metrics"
)

// rig is a running listener over a fresh PostgreSQL database.
type rig struct {
	srv   *Server
	pool  *pgxpool.Pool
	proxy *dbtest.Proxy        // between the listener and PostgreSQL, when proxied
	reg   *prometheus.Registry // the listener's metrics
}

// start runs a listener with cfg (Addr defaults to a kernel-chosen
// loopback port) storing into a fresh database, reached through a proxy
// when proxied, and stops it when t ends.
func start(t *testing.T, cfg Config, proxied bool) *rig {
	t.Helper()
	pool, url := dbtest.New(t)
	r := &rig{pool: pool, reg: prometheus.NewRegistry()}
	ingestPool := pool
	if proxied {
		var purl string
		r.proxy, purl = dbtest.ProxyURL(t, url)
		var err error
		ingestPool, err = db.OpenWith(context.Background(), purl, db.Options{MaxConns: 10, ConnectTimeout: time.Second})
		require.NoError(t, err)
		t.Cleanup(ingestPool.Close)
	}
	ing := ingest.NewService(ingestPool, &ingest.Config{Render: handlers.RenderEmail})
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	cfg.Metrics = metrics.NewLMTP(r.reg)
	srv, err := NewServer(ing, &cfg)
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Stop(ctx))
	})
	r.srv = srv
	return r
}

// dial opens an LMTP client session (after LHLO) to the listener.
func (r *rig) dial(t *testing.T) *smtp.Client {
	t.Helper()
	a := r.srv.Addr()
	conn, err := net.Dial(a.Network(), a.String())
	require.NoError(t, err)
	c := smtp.NewClientLMTP(conn)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Hello("mta.test"))
	return c
}

// send delivers msg from sender to rcpts over c and returns the answer of
// each recipient: its reply text for a 250, else its *smtp.SMTPError.
func send(t *testing.T, c *smtp.Client, from string, rcpts []string, msg string) map[string]any {
	t.Helper()
	require.NoError(t, c.Mail(from, nil))
	for _, r := range rcpts {
		require.NoError(t, c.Rcpt(r, nil))
	}
	w, err := c.Data()
	require.NoError(t, err)
	_, err = w.Write([]byte(msg))
	require.NoError(t, err)
	ok, err := w.CloseWithLMTPResponse()
	out := map[string]any{}
	for r, resp := range ok {
		out[r] = resp.StatusText
	}
	var lerr smtp.LMTPDataError
	if err != nil {
		require.True(t, errors.As(err, &lerr), "not per-recipient answers: %v", err)
		for r, e := range lerr {
			out[r] = e
		}
	}
	require.Len(t, out, len(rcpts), "one answer per recipient")
	return out
}

// emails returns the stored emails, oldest first.
func (r *rig) emails(t *testing.T) []email.Stored {
	t.Helper()
	list, _, err := ingest.NewReader(r.pool).List(context.Background(), ingest.Filter{Limit: 1000})
	require.NoError(t, err)
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

// message is a small message with a unique Message-ID.
func message(id string) string {
	return fmt.Sprintf("From: alice@example.com\r\nTo: team@example.org\r\nSubject: note %s\r\n"+
		"Message-ID: <%s@example.com>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\n\r\nHello %s.\r\n", id, id, id)
}

// requireCode checks that answer is an SMTP error with code and enhanced code.
func requireCode(t *testing.T, answer any, code int, enhanced smtp.EnhancedCode) *smtp.SMTPError {
	t.Helper()
	e, ok := answer.(*smtp.SMTPError)
	require.True(t, ok, "expected a %d, got %v", code, answer)
	require.Equal(t, code, e.Code, e.Message)
	require.Equal(t, enhanced, e.EnhancedCode, e.Message)
	return e
}

// requireStored checks that answer is a 250 naming an email.
func requireStored(t *testing.T, answer any, already bool) {
	t.Helper()
	text, ok := answer.(string)
	require.True(t, ok, "expected a 250, got %v", answer)
	require.Regexp(t, `(^|\s)stored as email [1-9]`, text)
	require.Equal(t, already, strings.Contains(text, "already stored as email "), text)
}

// metric returns the value of the metric name (with label outcome when
// given) from the listener's registry.
func (r *rig) metric(t *testing.T, name, outcome string) float64 {
	t.Helper()
	families, err := r.reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if outcome != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != outcome) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s %s", name, outcome)
	return 0
}

// requireOK checks that answer is a 250 naming an email, stored now or
// before.
func requireOK(t *testing.T, answer any) {
	t.Helper()
	text, ok := answer.(string)
	require.True(t, ok, "expected a 250, got %v", answer)
	require.Regexp(t, `(^|\s)stored as email [1-9]`, text)
}
