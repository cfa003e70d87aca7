package db_test

import (
	"context"
	str "strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/testwait"
)

// TestConnectionThatMovedABigValueIsClosedOnRelease: a connection that sent
// or received a big value is not kept in the pool (its grown buffers would
// stay alive with it); one that ran small queries is.
func TestConnectionThatMovedABigValueIsClosedOnRelease(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	idlePIDs := func() map[uint32]bool {
		// Release runs the hook in a goroutine: wait until it has returned
		// (kept or closed) every connection.
		testwait.Until(t, 10*time.Second, "every released connection to return to the pool", func() bool {
			return pool.Stat().AcquiredConns() == 0
		})
		out := map[uint32]bool{}
		for _, c := range pool.AcquireAllIdle(ctx) {
			out[c.Conn().PgConn().PID()] = true
			c.Release()
		}
		return out
	}
	use := func(value string) uint32 {
		c, err := pool.Acquire(ctx)
		require.NoError(t, err)
		defer c.Release()
		var n int
		require.NoError(t, c.QueryRow(ctx, "SELECT length($1::text)", value).Scan(&n))
		require.Equal(t, len(value), n)
		return c.Conn().PgConn().PID()
	}

	small := use("hello")
	require.True(t, idlePIDs()[small], "a connection that ran a small query is kept")
	big := use(str.Repeat("x", db.BigIOBytes))
	require.False(t, idlePIDs()[big], "a connection that sent a big value is closed")

	c, err := pool.Acquire(ctx)
	require.NoError(t, err)
	var s string
	require.NoError(t, c.QueryRow(ctx, "SELECT repeat('y', $1::int)", 2*db.BigIOBytes).Scan(&s))
	pid := c.Conn().PgConn().PID()
	c.Release()
	require.False(t, idlePIDs()[pid], "a connection that received a big value is closed")
}
