package dbtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a throwaway PostgreSQL cluster of its own (initdb into a
// temporary directory, a kernel-chosen port, trust authentication for user
// postgres), for fault-injection tests that stop or restart PostgreSQL: the
// machine's cluster, which others use, is never touched. As root, the
// server runs as the postgres OS user (PostgreSQL refuses to run as root).
type Cluster struct {
	// Dir holds the data directory, the socket and the server log.
	Dir  string
	Port int
	bin  string
	as   *user.User // nil: run as the current user
}

// StartCluster starts a throwaway cluster for t and removes it when t ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := NewCluster(context.Background())
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(c.Remove)
	return c
}

// NewCluster creates and starts a throwaway cluster. Remove stops it and
// deletes its files. MAILSYNC_PG_BIN names the PostgreSQL bin directory;
// by default the newest /usr/lib/postgresql/*/bin.
func NewCluster(ctx context.Context) (*Cluster, error) {
	bin, err := pgBin()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	if os.Geteuid() == 0 {
		if c.as, err = user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("throwaway cluster: running as root needs the postgres OS user: %w", err)
		}
	}
	if c.Dir, err = os.MkdirTemp("", "mailsync-pg-"); err != nil {
		return nil, err
	}
	if err := c.chown(c.Dir); err != nil {
		c.Remove()
		return nil, err
	}
	if err := c.run(ctx, "initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		c.Remove()
		return nil, err
	}
	if c.Port, err = freePort(); err != nil {
		c.Remove()
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		c.Remove()
		return nil, err
	}
	return c, nil
}

// URL is the URL of database name on the cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, name)
}

// Start starts the stopped cluster on its port and waits until it accepts
// connections.
func (c *Cluster) Start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "+
		"-c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB", c.Port, c.Dir)
	if err := c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.data(), "-l", c.LogPath(), "-o", opts); err != nil {
		return err
	}
	return c.wait(ctx)
}

// Stop stops the cluster (fast mode: every session is cut).
func (c *Cluster) Stop(ctx context.Context) error {
	return c.run(ctx, "pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", c.data())
}

// Restart restarts the cluster (fast mode: every session is cut) and waits
// until it accepts connections again.
func (c *Cluster) Restart(ctx context.Context) error {
	if err := c.run(ctx, "pg_ctl", "restart", "-w", "-t", "60", "-m", "fast", "-D", c.data(), "-l", c.LogPath()); err != nil {
		return err
	}
	return c.wait(ctx)
}

// Remove stops the cluster if it runs and deletes its files.
func (c *Cluster) Remove() {
	if c.Dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		_ = c.run(ctx, "pg_ctl", "stop", "-w", "-t", "60", "-m", "immediate", "-D", c.data())
	}
	_ = os.RemoveAll(c.Dir)
}

// LogPath is the server's log file.
func (c *Cluster) LogPath() string { return filepath.Join(c.Dir, "postgres.log") }

func (c *Cluster) data() string { return filepath.Join(c.Dir, "data") }

// wait polls until the cluster accepts connections, up to 30 s.
func (c *Cluster) wait(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, c.URL("postgres"))
		cancel()
		if err == nil {
			return conn.Close(ctx)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("throwaway cluster on port %d not accepting connections: %w", c.Port, err)
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// run runs a PostgreSQL program of the cluster's bin directory, as the
// postgres OS user when running as root.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) error {
	path := filepath.Join(c.bin, prog)
	var cmd *exec.Cmd
	if c.as != nil {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.as.Username, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = c.Dir
	// pg_ctl's server must not hold our output pipes open after it returns.
	out, err := os.CreateTemp(c.Dir, prog+"-*.out")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(out.Name())
		logTail, _ := os.ReadFile(c.LogPath())
		if len(logTail) > 2000 {
			logTail = logTail[len(logTail)-2000:]
		}
		return fmt.Errorf("%s %s: %w: %s\n%s", prog, strings.Join(args, " "), err, strings.TrimSpace(string(b)), logTail)
	}
	return nil
}

// chown gives dir to the cluster's OS user.
func (c *Cluster) chown(dir string) error {
	if c.as == nil {
		return nil
	}
	uid, _ := strconv.Atoi(c.as.Uid)
	gid, _ := strconv.Atoi(c.as.Gid)
	return os.Chown(dir, uid, gid)
}

// pgBin finds the PostgreSQL bin directory.
func pgBin() (string, error) {
	if b := os.Getenv("MAILSYNC_PG_BIN"); b != "" {
		return b, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) < version(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errors.New("throwaway cluster: no initdb under /usr/lib/postgresql/*/bin (set MAILSYNC_PG_BIN)")
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
