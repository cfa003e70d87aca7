package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
)

// TestServeWithLMTP runs `server serve` with LMTP_ADDR on a unix socket: a
// delivery to two recipients gets a 250 each and is readable through the
// API with its envelope and the mailbox of LMTP_MAILBOX, /readyz reports
// the listener (503 once its socket file is gone), and /metrics counts its
// recipients.
func TestServeWithLMTP(t *testing.T) {
	t.Parallel()
	addr := closedAddr(t)
	sock := filepath.Join(t.TempDir(), "lmtp.sock")
	startServerWith(t, addr, dbtest.NewURL(t), func(c *config) {
		c.LMTP = lmtpSettings{Addr: "unix:" + sock, Mailbox: "@support.example.org=support",
			AllowedNetworks: "127.0.0.1/32", SocketMode: 0o600}
	})

	conn, err := net.Dial("unix", sock)
	require.NoError(t, err)
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	require.NoError(t, c.Hello("mta.test"))
	require.NoError(t, c.Mail("alice@example.com", nil))
	require.NoError(t, c.Rcpt("help@support.example.org", nil))
	require.NoError(t, c.Rcpt("other@example.org", nil))
	w, err := c.Data()
	require.NoError(t, err)
	_, err = w.Write([]byte("From: alice@example.com\r\nTo: help@support.example.org\r\nSubject: over LMTP\r\n\r\nhi\r\n"))
	require.NoError(t, err)
	resp, err := w.CloseWithLMTPResponse()
	require.NoError(t, err)
	require.Len(t, resp, 2)
	require.NoError(t, c.Quit())

	get := func(path, token string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		return res.StatusCode, b.String()
	}
	status, body := get("/readyz", "")
	require.Equal(t, http.StatusOK, status, body)
	var ready struct{ Checks map[string]string }
	require.NoError(t, json.Unmarshal([]byte(body), &ready))
	require.Equal(t, "ok", ready.Checks["lmtp"])

	status, body = get("/v1/emails?mailbox=support", readerToken)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"envelope_to":["help@support.example.org"]`)
	require.Contains(t, body, `"envelope_from":"alice@example.com"`)
	require.Contains(t, body, `"client_id":"lmtp"`)

	_, body = get("/metrics", "")
	require.True(t, strings.Contains(body, `mailsync_lmtp_recipients_total{outcome="stored"} 2`), "metrics: LMTP recipients")

	require.NoError(t, os.Remove(sock)) // the MTA could no longer connect
	status, body = get("/readyz", "")
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.NoError(t, json.Unmarshal([]byte(body), &ready))
	require.Contains(t, ready.Checks["lmtp"], "is gone")
}

// TestLMTPConfig checks the LMTP_* variables: off by default, loopback
// only and mode 0660 by default, and every bad value named at once.
func TestLMTPConfig(t *testing.T) {
	t.Parallel()
	c, err := parseConfig(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	require.Equal(t, lmtpSettings{AllowedNetworks: "127.0.0.0/8,::1/128", SocketMode: 0o660}, c.LMTP)

	env := map[string]string{"LMTP_ADDR": "nowhere", "LMTP_ALLOWED_NETWORKS": "10.0.0.0/99",
		"LMTP_MAILBOX": "=x", "LMTP_SOCKET_MODE": "rw-rw----"}
	_, err = parseConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.Error(t, err)
	for _, v := range []string{"LMTP_ADDR", "LMTP_ALLOWED_NETWORKS", "LMTP_MAILBOX", "LMTP_SOCKET_MODE"} {
		require.ErrorContains(t, err, v)
	}
}
