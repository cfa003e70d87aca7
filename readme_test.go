package mailsync_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// readmeBase is the address the README's quick start uses; the test runs its
// curl lines against its own server instead.
const readmeBase = "http://127.0.0.1:8080"

// TestReadmeQuickStart follows the README's quick start literally: it starts
// the server the way make run does (scripts/run.sh, which starts its own
// devmongo) on free ports with its own databases, checks the banner make run
// prints, runs every curl line of the quick start with bash and checks what
// each prints, then stops make run and checks devmongo stopped with it.
func TestReadmeQuickStart(t *testing.T) {
	t.Parallel()
	cmds := quickStartCommands(t, "README.md")
	bin := filepath.Join(t.TempDir(), "server")
	build := exec.Command("go", "build", "-o", bin, "./cmd/server")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	httpAddr, mongoAddr := freeAddr(t), freeAddr(t)
	base := "http://" + httpAddr
	db := "mailsync_readme_" + randomHex(t)
	t.Cleanup(func() { dropDatabases(t, db, db+"_mongo") })
	run := startMakeRun(t, map[string]string{
		"HTTP_ADDR":           httpAddr,
		"DEVMONGO_ADDR":       mongoAddr,
		"DATABASE_URL":        "postgres://postgres@127.0.0.1:5432/" + db + "?sslmode=disable",
		"MAILSYNC_SERVER_BIN": bin,
		"MAILSYNC_RUN_DIR":    t.TempDir(),
	})

	banner := run.waitFor(t, "readiness   "+base+"/readyz", 3*time.Minute)
	for _, want := range []string{base + "/docs", base + "/dashboard", "Bearer dev-token-0123456789abcdef",
		"starting devmongo (FerretDB"} {
		require.Contains(t, banner, want, "make run's output")
	}
	page := runBash(t, "curl -sS "+base+"/dashboard")
	require.Contains(t, page, "dev-token-0123456789abcdef", "the dashboard names the key make run prints")

	seen := map[string]bool{}
	for _, c := range cmds {
		cmd := strings.ReplaceAll(c, readmeBase, base)
		check, ok := checkFor(cmd)
		require.True(t, ok, "the test does not know what this README curl line should print; add a check:\n%s", c)
		check.run(t, cmd)
		seen[check.name] = true
	}
	for _, c := range readmeChecks {
		require.True(t, seen[c.name], "the README's quick start no longer shows %s", c.name)
	}

	run.stop(t)
	require.Eventually(t, func() bool { return !dialable(mongoAddr) }, 20*time.Second, 100*time.Millisecond,
		"the devmongo make run started is still listening on %s after make run stopped", mongoAddr)
}

// quickStartCommands returns the curl commands of the sh blocks between the
// README's quickstart markers, continuation lines joined.
func quickStartCommands(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	begin, end := strings.Index(s, "<!-- quickstart:begin -->"), strings.Index(s, "<!-- quickstart:end -->")
	require.True(t, begin >= 0 && end > begin, "README.md lacks the quickstart markers")
	var cmds []string
	inSh, cur := false, ""
	for _, line := range strings.Split(s[begin:end], "\n") {
		switch {
		case !inSh && strings.TrimSpace(line) == "```sh":
			inSh = true
		case inSh && strings.TrimSpace(line) == "```":
			inSh = false
		case inSh:
			cur += strings.TrimSuffix(line, "\\")
			if strings.HasSuffix(line, "\\") {
				continue
			}
			if strings.HasPrefix(strings.TrimSpace(cur), "curl ") {
				cmds = append(cmds, strings.TrimSpace(cur))
			}
			cur = ""
		}
	}
	for _, c := range cmds {
		require.Contains(t, c, readmeBase, "every quick start curl line talks to %s", readmeBase)
	}
	return cmds
}

// runBash runs one command line with bash in the repository's directory, as
// a reader pasting it would; curl fails on an HTTP error status.
func runBash(t *testing.T, line string) string {
	t.Helper()
	script := "set -euo pipefail\ncurl() { command curl --fail-with-body --max-time 30 \"$@\"; }\n" + line
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	require.NoError(t, err, "%s\n%s", line, out)
	return string(out)
}

// jsonOf decodes a command's output as one JSON object.
func jsonOf(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &m), out)
	return m
}

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
	out  *syncBuffer
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
	r := &makeRun{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
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
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if s := r.out.String(); strings.Contains(s, want) {
			return s
		}
		select {
		case <-r.done:
			t.Fatalf("make run exited before printing %q:\n%s", want, r.out.String())
		case <-deadline.C:
			t.Fatalf("make run did not print %q within %s:\n%s", want, timeout, r.out.String())
		case <-tick.C:
		}
	}
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

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
