// Package mongotest runs the FerretDB dev server (tools/devmongo) for tests
// and gives each test a MongoDB database of its own.
package mongotest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/mongostore"
)

var (
	sharedOnce sync.Once
	sharedURL  string
	sharedErr  error
)

// URL returns the MongoDB URL tests share: MAILSYNC_TEST_MONGO_URL (set by
// `make test`), or else a devmongo server this test process starts on a
// free port and that exits with it, dropping its PostgreSQL database.
func URL(t testing.TB) string {
	t.Helper()
	sharedOnce.Do(func() {
		if u := os.Getenv("MAILSYNC_TEST_MONGO_URL"); u != "" {
			sharedURL = u
			return
		}
		var s *Server
		s, sharedErr = start("mailsync_devmongo_p"+fmt.Sprint(os.Getpid()), "127.0.0.1:0", "DEVMONGO_DROP_ON_EXIT=1")
		if s != nil {
			sharedURL = s.URL
		}
	})
	if sharedErr != nil {
		t.Fatalf("mongotest: %v", sharedErr)
	}
	return sharedURL
}

// NewStore returns a store on a fresh database of the shared server; the
// database is dropped when t ends.
func NewStore(t testing.TB) (*mongostore.Store, string) {
	t.Helper()
	return StoreAt(t, URL(t))
}

// StoreAt returns a store on a fresh database of the server at url.
func StoreAt(t testing.TB, url string) (*mongostore.Store, string) {
	t.Helper()
	name := "t" + randomHex(6)
	s, err := mongostore.Connect(context.Background(), url, name, 10*time.Second)
	if err != nil {
		t.Fatalf("mongotest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Coll().Database().Drop(ctx)
		_ = s.Close(ctx)
	})
	return s, name
}

// Server is a devmongo process of one test, which can be stopped and
// started again on the same port with the same data (to test outages).
type Server struct {
	URL  string
	addr string
	pgdb string
	cmd  *exec.Cmd
}

// StartServer starts a devmongo server owned by t, stopped and its data
// dropped when t ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	s, err := start("mailsync_devmongo_"+randomHex(6), "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mongotest: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		_ = dbtest.DropDatabase(s.pgdb)
	})
	return s
}

// Stop kills the server (like an outage); Start brings it back.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// Start restarts a stopped server on its old port.
func (s *Server) Start() error {
	n, err := start(s.pgdb, s.addr)
	if err != nil {
		return err
	}
	s.cmd = n.cmd
	return nil
}

// start runs devmongo on addr storing in PostgreSQL database pgdb, with env
// added to its environment. Its log is kept out of the test output (FerretDB
// logs as errors the duplicate keys the relay expects); the end of it is
// part of the error when it does not start.
func start(pgdb, addr string, env ...string) (*Server, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	pgURL := strings.Replace(dbtest.BaseURL(), "/postgres?", "/"+pgdb+"?", 1)
	var cmd *exec.Cmd
	var line string
	log := &tail{max: 4096}
	for attempt := 0; attempt < 50; attempt++ { // the old port may take a moment to free
		cmd = exec.Command(bin, "-listen", addr, "-postgresql-url", pgURL, "-exit-with-parent", "-log-level", "error")
		cmd.Env = append(os.Environ(), env...)
		cmd.Stderr = log
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		line, err = bufio.NewReader(out).ReadString('\n')
		if err == nil {
			break
		}
		_ = cmd.Wait()
		time.Sleep(100 * time.Millisecond)
	}
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "mongodb://") {
		return nil, fmt.Errorf("devmongo did not start on %s: %s", addr, log)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(url, "mongodb://"), "/")
	if _, _, err := net.SplitHostPort(host); err != nil {
		return nil, err
	}
	return &Server{URL: url, addr: host, pgdb: pgdb, cmd: cmd}, nil
}

// Binary returns the path of the devmongo binary, built from tools/devmongo
// when the cached one is older than its sources.
func Binary() (string, error) { return binary() }

// binary finds devmongo: MAILSYNC_DEVMONGO_BIN, the Makefile's cache, or a
// fresh build of tools/devmongo.
func binary() (string, error) {
	if b := os.Getenv("MAILSYNC_DEVMONGO_BIN"); b != "" {
		return b, nil
	}
	home, _ := os.UserHomeDir()
	cached := filepath.Join(home, ".cache", "mailsync", "bin", "devmongo")
	built, err := os.Stat(cached)
	dir, _ := os.Getwd()
	for ; dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "tools", "devmongo", "go.mod")); err == nil {
			if built != nil && !newerSources(filepath.Join(dir, "tools", "devmongo"), built.ModTime()) {
				return cached, nil
			}
			// Built aside and renamed: concurrent test processes may do it too.
			tmp := fmt.Sprintf("%s.%d", cached, os.Getpid())
			if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
				return "", err
			}
			build := exec.Command("go", "build", "-o", tmp, ".")
			build.Dir = filepath.Join(dir, "tools", "devmongo")
			if out, err := build.CombinedOutput(); err != nil {
				return "", fmt.Errorf("build devmongo: %v\n%s", err, out)
			}
			return cached, os.Rename(tmp, cached)
		}
	}
	if err == nil {
		return cached, nil
	}
	return "", fmt.Errorf("devmongo not found: run `make test`, or set MAILSYNC_DEVMONGO_BIN")
}

// newerSources reports whether a file of dir changed after t (the cached
// binary is then rebuilt, as the Makefile would).
func newerSources(dir string, t time.Time) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.ModTime().After(t) {
			return true
		}
	}
	return false
}

// tail keeps the last max bytes written to it (a process's log).
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > w.max {
		w.b = w.b[len(w.b)-w.max:]
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(string(w.b))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
