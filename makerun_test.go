package mailsync_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/testlog"
	"mailsync/internal/testwait"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func dropDatabases(t *testing.T, names ...string) {
	for _, n := range names {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, "psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
			fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, n)).CombinedOutput()
		cancel()
		if err != nil {
			t.Logf("drop database %s: %v: %s", n, err, out)
		}
	}
}

// makeRun is scripts/run.sh running in its own process group.
type makeRun struct {
	cmd  *exec.Cmd
	out  *testlog.Buffer
	done chan struct{}
}

func startMakeRun(t *testing.T, env map[string]string) *makeRun {
	t.Helper()
	cmd := exec.Command("bash", "scripts/run.sh")
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "MONGO_URL", "MONGO_DB", "API_KEYS", "AUTH_DISABLED", "LOG_FORMAT":
			continue // make run's defaults, as a newcomer has them
		}
		cmd.Env = append(cmd.Env, kv)
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if os.Getenv("MAILSYNC_DEVMONGO_BIN") == "" {
		home, _ := os.UserHomeDir()
		cmd.Env = append(cmd.Env, "MAILSYNC_DEVMONGO_BIN="+filepath.Join(home, ".cache", "mailsync", "bin", "devmongo"))
	}
	r := &makeRun{cmd: cmd, out: &testlog.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.out, r.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	go func() { _ = cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever is left of its group
		<-r.done
	})
	return r
}

// waitFor waits until make run has printed want and returns its output.
func (r *makeRun) waitFor(t *testing.T, want string, timeout time.Duration) string {
	t.Helper()
	var out string
	printed := testwait.Poll(timeout, func() bool {
		if out = r.out.String(); strings.Contains(out, want) {
			return true
		}
		select {
		case <-r.done:
			t.Fatalf("make run exited before printing %q:\n%s", want, r.out.String())
		default:
		}
		return false
	})
	if !printed {
		t.Fatalf("make run did not print %q within %s:\n%s", want, timeout, r.out.String())
	}
	return out
}

// stop sends make run SIGTERM, as Ctrl-C would stop it, and waits for it.
func (r *makeRun) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-r.done:
	case <-time.After(time.Minute):
		t.Fatalf("make run did not stop within a minute of SIGTERM:\n%s", r.out.String())
	}
}
