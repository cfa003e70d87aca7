package dbtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/testwait"
)

// AwaitLockWait waits until a session of pool's database waits for a lock:
// the code under test has reached a statement that a test's transaction
// holds back. It fails t when none does within a minute.
func AwaitLockWait(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	testwait.Until(t, time.Minute, "a session of the test database waiting for a lock", func() bool {
		var n int
		err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		return err == nil && n > 0
	})
}
