package lmtp

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClientOutsideAllowedNetworksIsRefused checks that a TCP client whose
// address is not in LMTP_ALLOWED_NETWORKS is greeted with 554 5.7.1 naming
// it and disconnected, and that one inside is served.
func TestClientOutsideAllowedNetworksIsRefused(t *testing.T) {
	t.Parallel()
	r := start(t, Config{AllowedNetworks: "10.0.0.0/8, 192.0.2.7"}, false)
	conn, err := net.Dial("tcp", r.srv.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Regexp(t, `^554 5\.7\.1 127\.0\.0\.1:\d+ is not in LMTP_ALLOWED_NETWORKS\r\n$`, line)
	_, err = br.ReadString('\n')
	require.Error(t, err, "the connection is closed after the greeting")
	require.Equal(t, 1.0, r.metric(t, "mailsync_lmtp_connections_refused_total", ""))

	allowed := start(t, Config{AllowedNetworks: "10.0.0.0/8,127.0.0.1/32"}, false)
	requireStored(t, send(t, allowed.dial(t), "a@example.com", []string{"b@example.org"}, message("ok"))["b@example.org"], false)
}

// TestUnixSocket checks delivery over a unix socket: the socket gets mode
// 0660 (or LMTP_SOCKET_MODE), a stale socket left by a crash is replaced,
// a file that is not a socket is never removed, and the socket is removed
// at Stop.
func TestUnixSocket(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "lmtp.sock")
	stale, err := net.Listen("unix", path)
	require.NoError(t, err)
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, stale.Close()) // the file stays, as after a crash

	r := start(t, Config{Addr: "unix:" + path}, false)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o660), fi.Mode().Perm())
	requireStored(t, send(t, r.dial(t), "a@example.com", []string{"b@example.org"}, message("unix"))["b@example.org"], false)
	require.NoError(t, r.srv.Ping(context.Background()))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, r.srv.Stop(ctx))
	_, err = os.Lstat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "the socket is removed at Stop")

	other := filepath.Join(dir, "not-a-socket")
	require.NoError(t, os.WriteFile(other, []byte("keep me"), 0o600))
	srv, err := NewServer(nil, &Config{Addr: "unix:" + other, SocketMode: 0o600})
	require.NoError(t, err)
	require.ErrorContains(t, srv.Start(context.Background()), "not a socket")
	b, err := os.ReadFile(other)
	require.NoError(t, err)
	require.Equal(t, "keep me", string(b))
}

// TestConfigErrorsNameTheVariable checks that bad settings are refused at
// construction, each error naming its variable, all at once.
func TestConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	_, err := NewServer(nil, &Config{Addr: "unix:relative.sock", AllowedNetworks: "10.0.0.0/33",
		Mailbox: "a@b=x, =y"})
	require.Error(t, err)
	for _, v := range []string{"LMTP_ADDR", "LMTP_ALLOWED_NETWORKS", "LMTP_MAILBOX"} {
		require.ErrorContains(t, err, v)
	}
	_, err = NewServer(nil, &Config{Addr: "localhost"})
	require.ErrorContains(t, err, "LMTP_ADDR")
	_, err = NewServer(nil, &Config{Addr: ":2424", Mailbox: "inbox, other"})
	require.ErrorContains(t, err, "two default mailboxes")
}

// TestMailboxRules checks the recipient-to-mailbox rules of LMTP_MAILBOX.
func TestMailboxRules(t *testing.T) {
	t.Parallel()
	r, err := parseMailboxRules(" Help@Support.example.org = support ,@sales.example.org=sales, inbox ")
	require.NoError(t, err)
	for rcpt, want := range map[string]string{
		"help@support.example.org":        "support",
		"HELP@support.example.org":        "support",
		"help+urgent@support.example.org": "support",
		"other@support.example.org":       "inbox",
		"bob@Sales.Example.org":           "sales",
		"postmaster":                      "inbox",
	} {
		require.Equal(t, want, r.mailbox(rcpt), rcpt)
	}
	none, err := parseMailboxRules("")
	require.NoError(t, err)
	require.Equal(t, "", none.mailbox("a@b"))
}
