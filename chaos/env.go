package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// MachinePG is the machine's PostgreSQL cluster. Soak runs keep their
// databases there; chaos runs, which restart PostgreSQL, start a throwaway
// cluster of their own (dbtest.Cluster) and never touch it.
const MachinePG PGServer = "postgres://postgres@127.0.0.1:5432"

// PGServer is the base URL of a PostgreSQL server (no database).
type PGServer string

// DatabaseURL is the URL of database name on the server.
func (s PGServer) DatabaseURL(name string) string { return string(s) + "/" + name + "?sslmode=disable" }

// FreePort asks the kernel for a free loopback TCP port. The port is closed
// again before it is returned, so a server can bind it.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// adminExec runs one statement in the maintenance database.
func (s PGServer) adminExec(ctx context.Context, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DatabaseURL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// CreateDatabase creates an empty database (dropping a leftover of the same name).
func (s PGServer) CreateDatabase(ctx context.Context, name string) error {
	if err := s.DropDatabase(ctx, name); err != nil {
		return err
	}
	return s.adminExec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

// DropDatabase drops a database, disconnecting its sessions.
func (s PGServer) DropDatabase(ctx context.Context, name string) error {
	return s.adminExec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// Wait waits until the server accepts connections, up to timeout.
func (s PGServer) Wait(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := s.adminExec(ctx, "SELECT 1")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PostgreSQL not accepting connections after %s: %w", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// BuildServer compiles cmd/server into dir and returns the binary's path.
func BuildServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "server")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "mailsync/cmd/server")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/server: %v\n%s", err, out)
	}
	return bin, nil
}

// DevmongoBinary finds the devmongo binary: MAILSYNC_DEVMONGO_BIN (set by the
// Makefile) or the Makefile's cache.
func DevmongoBinary() (string, error) {
	if b := os.Getenv("MAILSYNC_DEVMONGO_BIN"); b != "" {
		return b, nil
	}
	home, _ := os.UserHomeDir()
	cached := filepath.Join(home, ".cache", "mailsync", "bin", "devmongo")
	if _, err := os.Stat(cached); err != nil {
		return "", fmt.Errorf("devmongo not found: run through make, or set MAILSYNC_DEVMONGO_BIN")
	}
	return cached, nil
}

// Migrate runs `server migrate up` against databaseURL.
func Migrate(ctx context.Context, serverBin, databaseURL string) error {
	cmd := exec.CommandContext(ctx, serverBin, "migrate", "up")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+databaseURL, "AUTH_DISABLED=true", "LOG_FORMAT=text", "LOG_LEVEL=warn")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("server migrate up: %v\n%s", err, out)
	}
	return nil
}

// DropStale drops the databases a killed earlier run of prefix left behind:
// <prefix>_<pid> and <prefix>_mongo_<pid> whose process no longer exists.
func (s PGServer) DropStale(ctx context.Context, prefix string) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, s.DatabaseURL("postgres"))
	if err != nil {
		return
	}
	rows, err := conn.Query(cctx, "SELECT datname FROM pg_database WHERE datname ~ $1", "^"+prefix+"_(mongo_)?[0-9]+$")
	var names []string
	if err == nil {
		names, _ = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	conn.Close(context.Background())
	for _, name := range names {
		pid := name[strings.LastIndexByte(name, '_')+1:]
		if _, err := os.Stat("/proc/" + pid); os.IsNotExist(err) {
			_ = s.DropDatabase(ctx, name)
		}
	}
}
