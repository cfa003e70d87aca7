package db

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// BigIOBytes is the size of one network read or write from which a pooled
// connection is closed when it is released, instead of being kept.
//
// pgx keeps the buffers of a connection's largest message alive while the
// connection sits in the pool: its read buffer is swapped back to a small
// one only on the next read, and the parameter slices of the last query
// (reset to length 0, not cleared) still point at the encoded values. After
// a 15 MB email that is about 30 MB per connection, for as long as the
// connection lives. pgx reads into its whole buffer and writes a message in
// one call, so a read or write this big means such buffers exist; closing
// the connection frees them, and the pool opens a fresh one when needed.
const BigIOBytes = 1 << 20

// releaseBigBuffers makes the pool close, on release, every connection that
// moved a message of BigIOBytes or more since it was acquired.
func releaseBigBuffers(cfg *pgxpool.Config) {
	cfg.ConnConfig.AfterNetConnect = func(_ context.Context, _ *pgconn.Config, c net.Conn) (net.Conn, error) {
		return &sizeWatchConn{Conn: c}, nil
	}
	cfg.AfterRelease = func(c *pgx.Conn) bool {
		w, ok := c.PgConn().Conn().(*sizeWatchConn)
		return !ok || !w.big.Swap(false)
	}
}

// sizeWatchConn notes whether a read or write of BigIOBytes or more happened.
type sizeWatchConn struct {
	net.Conn
	big atomic.Bool
}

func (c *sizeWatchConn) Read(p []byte) (int, error) {
	if len(p) >= BigIOBytes {
		c.big.Store(true)
	}
	return c.Conn.Read(p)
}

func (c *sizeWatchConn) Write(p []byte) (int, error) {
	if len(p) >= BigIOBytes {
		c.big.Store(true)
	}
	return c.Conn.Write(p)
}
