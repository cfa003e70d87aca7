package dbtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
)

// TestThrowawayCluster: a cluster of its own starts on a free port, cuts
// its sessions on a restart, keeps its data, and is gone after Remove.
func TestThrowawayCluster(t *testing.T) {
	t.Parallel()
	c := dbtest.StartCluster(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)`)
	require.NoError(t, err)

	require.NoError(t, c.Restart(ctx))
	require.Error(t, conn.Ping(ctx), "a restart cuts the sessions")
	conn, err = pgx.Connect(ctx, c.URL("postgres"))
	require.NoError(t, err)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT n FROM kept`).Scan(&n))
	require.Equal(t, 7, n)
	require.NoError(t, conn.Close(ctx))

	require.NoError(t, c.Stop(ctx))
	_, err = pgx.Connect(ctx, c.URL("postgres"))
	require.Error(t, err)
	require.NoError(t, c.Start(ctx))
	c.Remove()
	require.NoDirExists(t, c.Dir)
}
