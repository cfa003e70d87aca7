package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/db"
	"mailsync/internal/mongostore"
)

// relayServer is `serve --role=all` (the relay on, serve's defaults) in its
// own process, over an emptied PostgreSQL database and a fresh MongoDB
// database, with a small pool of the bench's own for reading the outcome.
type relayServer struct {
	*serverProc
	pool  *pgxpool.Pool
	store *mongostore.Store
}

// startRelayServer starts it; name tells the MongoDB database apart
// (bench_<name>_<pid>), env is added to serverEnv's. stop undoes all of it.
func startRelayServer(ctx context.Context, o benchOptions, d *database, bin, name string, env ...string) (*relayServer, error) {
	mongoDB := fmt.Sprintf("bench_%s_%d", name, os.Getpid())
	store, err := freshStore(ctx, o.mongoURL, mongoDB)
	if err != nil {
		return nil, err
	}
	r := &relayServer{store: store}
	if r.pool, err = db.Open(ctx, d.url, 2); err != nil {
		r.stop()
		return nil, err
	}
	if err := reset(ctx, r.pool); err != nil {
		r.stop()
		return nil, err
	}
	if r.serverProc, err = startProc(ctx, bin, []string{"serve", "--role=all"}, append(serverEnv(d.url, o.mongoURL, mongoDB), env...)); err != nil {
		r.stop()
		return nil, fmt.Errorf("server: %w", err)
	}
	return r, nil
}

func (r *relayServer) stop() {
	if r.serverProc != nil {
		r.serverProc.stop()
	}
	if r.pool != nil {
		r.pool.Close()
	}
	dropStore(r.store)
}
