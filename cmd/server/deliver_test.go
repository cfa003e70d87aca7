package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"mailsync/client"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/deliver"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/testwait"
)

const (
	mtaToken    = "mta-deliver-token-0001"
	readerToken = "reader-only-token-0001"
)

// deliverRun runs `server deliver args...` with env and stdin as main does,
// and returns its exit code and its output (stdout and stderr).
func deliverRun(t *testing.T, env map[string]string, stdin []byte, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer // stdout and stderr
	code := deliverCmd(context.Background(), args, bytes.NewReader(stdin), &out, &out, func(k string) string { return env[k] })
	return code, out.String()
}

// closedAddr returns a loopback address nothing listens on: a port the
// kernel chose, released again.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startServer runs `server serve` in this process on addr over a fresh
// PostgreSQL and MongoDB database, and waits until it answers.
func startServer(t *testing.T, addr, dbURL string) { startServerWith(t, addr, dbURL, nil) }

// startServerWith is startServer with the configuration changed by edit.
func startServerWith(t *testing.T, addr, dbURL string, edit func(*config)) {
	t.Helper()
	mongoURL := mongotest.URL(t)
	_, mongoDB := mongotest.StoreAt(t, mongoURL)
	cfg := config{DatabaseURL: dbURL, MongoURL: mongoURL, MongoDB: mongoDB, HTTPAddr: addr,
		APIKeys:      "mta:" + mtaToken + ":ingest,viewer:" + readerToken + ":read",
		RelayWorkers: 1, RelayBatchSize: 10, RelayMaxRetries: 3, IdempotencyTTL: 24 * time.Hour,
		MaxBodyBytes: 1 << 20, ShutdownTimeout: 5 * time.Second, LogFormat: "text"}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, nil) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	testwait.Until(t, time.Minute, "the server to answer /healthz", func() bool {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case err := <-done:
			t.Fatalf("server exited: %v", err)
		default:
		}
		return false
	})
}

func countEmails(t *testing.T, dbURL string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM incoming_emails`).Scan(&n))
	return n
}

// TestDeliverCommand runs `server deliver` as an MTA would: against a
// stopped server (75: the MTA queues it), against the running server (0),
// the same delivery again (0, no second email), with a key without the
// ingest scope (77), with a body that is not a message (65) and without
// MAILSYNC_URL (78).
func TestDeliverCommand(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "internal", "ingest", "testdata", "bounce_no_from.eml"))
	require.NoError(t, err)
	addr := closedAddr(t)
	env := map[string]string{"MAILSYNC_URL": "http://" + addr, "MAILSYNC_TOKEN": mtaToken}
	args := []string{"-deadline", "2s", "-f", "", "-t", "alice@example.org", "-m", "support"}

	code, line := deliverRun(t, env, raw, args...)
	require.Equal(t, deliver.ExitTempFail, code, line)
	require.Contains(t, line, "connection refused")
	require.Equal(t, 1, strings.Count(line, "\n"), "exactly one line: %q", line)
	require.True(t, strings.HasPrefix(line, "mailsync deliver: "), "no enhanced status code first: %q", line)

	dbURL := dbtest.NewURL(t)
	startServer(t, addr, dbURL)
	code, line = deliverRun(t, env, raw, args...)
	require.Equal(t, deliver.ExitOK, code, line)
	require.Contains(t, line, "stored as email 1")
	code, line = deliverRun(t, env, raw, args...)
	require.Equal(t, deliver.ExitOK, code, line)
	require.Contains(t, line, "already stored as email 1")
	require.Equal(t, 1, countEmails(t, dbURL))

	reader, err := client.New(&client.Config{BaseURL: "http://" + addr, Token: readerToken})
	require.NoError(t, err)
	stored, err := reader.GetEmail(context.Background(), 1)
	require.NoError(t, err)
	require.Equal(t, []string{"alice@example.org"}, stored.EnvelopeTo)
	require.Equal(t, "support", stored.Mailbox)
	require.True(t, stored.Incomplete)

	bad := map[string]string{"MAILSYNC_URL": env["MAILSYNC_URL"], "MAILSYNC_TOKEN": readerToken}
	code, line = deliverRun(t, bad, raw, args...)
	require.Equal(t, deliver.ExitNoPerm, code, line)
	bad["MAILSYNC_TOKEN"] = "not-a-token-of-this-server"
	code, line = deliverRun(t, bad, raw, args...)
	require.Equal(t, deliver.ExitNoPerm, code, line)

	code, line = deliverRun(t, env, []byte("this is not an email at all\n"), args...)
	require.Equal(t, deliver.ExitDataErr, code, line)
	require.Contains(t, line, "refused the message: 400")

	code, line = deliverRun(t, map[string]string{"MAILSYNC_TOKEN": mtaToken}, raw, args...)
	require.Equal(t, deliver.ExitConfig, code, line)
	require.Contains(t, line, "MAILSYNC_URL")
	require.Equal(t, 1, countEmails(t, dbURL))
}

// TestDeliverConfigErrors checks that bad flags and environment give
// EX_CONFIG and one line, without reading the message.
func TestDeliverConfigErrors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"MAILSYNC_URL": "http://127.0.0.1:1", "MAILSYNC_TOKEN": mtaToken}
	for name, c := range map[string]struct {
		env  map[string]string
		args []string
	}{
		"unknown flag":    {env, []string{"-x"}},
		"stray argument":  {env, []string{"alice@example.org"}},
		"bad deadline":    {env, []string{"-deadline", "0s"}},
		"newline in flag": {env, []string{"-t", "a@x\r\nX-Evil: 1"}},
		"no token":        {map[string]string{"MAILSYNC_URL": "http://127.0.0.1:1"}, nil},
		"missing token file": {map[string]string{"MAILSYNC_URL": "http://127.0.0.1:1",
			"MAILSYNC_TOKEN_FILE": filepath.Join(t.TempDir(), "none")}, nil},
		"bad url":       {map[string]string{"MAILSYNC_URL": "localhost:8080", "MAILSYNC_TOKEN": mtaToken}, nil},
		"bad body size": {map[string]string{"MAILSYNC_URL": "http://x", "MAILSYNC_TOKEN": "t", "MAX_BODY_BYTES": "-1"}, nil},
	} {
		code, line := deliverRun(t, c.env, []byte("Subject: x\r\n\r\nx"), c.args...)
		require.Equal(t, deliver.ExitConfig, code, "%s: %s", name, line)
		require.Equal(t, 1, strings.Count(line, "\n"), "%s: %q", name, line)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(mtaToken+"\n"), 0o600))
	cfg, err := deliverConfig([]string{"-t", "a@x, <b@x>", "-t", "c@x"}, func(k string) string {
		return map[string]string{"MAILSYNC_URL": "http://x", "MAILSYNC_TOKEN_FILE": tokenFile}[k]
	})
	require.NoError(t, err)
	require.Equal(t, mtaToken, cfg.Token)
	require.Equal(t, []string{"a@x", "<b@x>", "c@x"}, cfg.To)
	require.Equal(t, 30*time.Second, cfg.Deadline)
}

// TestDeliverTrustsOnlyMailsync checks that `server deliver` exits 0 (the
// MTA deletes its copy) only when mailsync answered: an HTML maintenance
// page, another JSON service, a 200 without an email id or a 410 that is not
// mailsync's make it exit 75 with one line naming what answered.
func TestDeliverTrustsOnlyMailsync(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		status int
		ctype  string
		body   string
		names  string
	}{
		"maintenance page": {200, "text/html; charset=utf-8",
			"<html><head><title>Down for maintenance</title></head><body>Back soon</body></html>", "text/html"},
		"another service":  {201, "application/json", `{"status":"ok","created":true}`, "application/json"},
		"id zero":          {200, "application/json", `{"id":0}`, "no email id"},
		"not mailsync 410": {410, "text/plain", "gone fishing", "text/plain"},
		"html bad request": {400, "text/html", "<h1>Bad Request</h1>", "text/html"},
		"proxy 403":        {403, "text/html", "<h1>Forbidden</h1>", "text/html"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.ctype)
				w.Header().Set("Server", "nginx")
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			}))
			defer srv.Close()
			env := map[string]string{"MAILSYNC_URL": srv.URL, "MAILSYNC_TOKEN": mtaToken}
			code, line := deliverRun(t, env, []byte(sampleMessage), "-deadline", "2s", "-t", "a@example.org")
			require.Equal(t, deliver.ExitTempFail, code, line)
			require.Equal(t, 1, strings.Count(line, "\n"), "one line: %q", line)
			require.Contains(t, line, c.names)
			require.Contains(t, line, "nginx")
		})
	}
}

const sampleMessage = "From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n"

// TestDeliverHelp checks that `server deliver -h` prints its flags and
// exits 0.
func TestDeliverHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "--help", "-help"} {
		code, out := deliverRun(t, nil, nil, arg)
		require.Equal(t, 0, code, out)
		for _, flag := range []string{"-f", "-t", "-m", "-deadline", "MAILSYNC_URL", "MAILSYNC_TOKEN"} {
			require.Contains(t, out, flag)
		}
	}
}

// TestDeliverReportsEveryMissingSetting checks that a `server deliver`
// without MAILSYNC_URL and MAILSYNC_TOKEN names both in its one line.
func TestDeliverReportsEveryMissingSetting(t *testing.T) {
	t.Parallel()
	code, line := deliverRun(t, map[string]string{}, []byte(sampleMessage), "-t", "a@example.org")
	require.Equal(t, deliver.ExitConfig, code, line)
	require.Equal(t, 1, strings.Count(line, "\n"), "one line: %q", line)
	require.Contains(t, line, "MAILSYNC_URL")
	require.Contains(t, line, "MAILSYNC_TOKEN")
}
