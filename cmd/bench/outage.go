package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/relay"
)

// drainAfterOutage builds the backlog by a real outage and times its drain:
// the relay runs (default wake-ups: ingest commits wake it) against MongoDB
// reached through an outageProxy; the proxy goes down (its port closed, its
// connections cut), n emails are ingested, the relay meets the outage, then
// the proxy comes back up on the same port. The drain is timed from that
// moment to the last outbox row processed, so it includes the relay's own
// recovery (probe, resume).
func drainAfterOutage(ctx context.Context, pool *pgxpool.Pool, w *cpuWatch, mongoURL, tag string, n int,
	rcfg relay.Config, res *drainResult) error {
	target := strings.TrimSuffix(strings.TrimPrefix(mongoURL, "mongodb://"), "/")
	if i := strings.IndexAny(target, "/?"); i >= 0 {
		target = target[:i]
	}
	p, err := startOutageProxy(target)
	if err != nil {
		return err
	}
	defer p.close()
	relayStore, err := freshStore(ctx, "mongodb://"+p.addr+"/", "bench_relay_"+tag)
	if err != nil {
		return err
	}
	defer dropStore(relayStore)
	rel := relay.New(pool, relayStore, &rcfg)
	if err := rel.Start(ctx); err != nil {
		return err
	}
	defer stopRelay(rel)

	p.down()
	down := time.Now()
	start := time.Now()
	if err := seedEmails(ctx, pool, tag, n, 500, rel.Notify); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	res.seedElapsed = time.Since(start)
	if err := waitQuery(ctx, pool, 2*time.Minute, `SELECT EXISTS (SELECT 1 FROM outbox_messages WHERE error_message LIKE 'store unreachable%')`); err != nil {
		return fmt.Errorf("the relay did not meet the outage: %w", err)
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE outbox_messages, incoming_emails"); err != nil {
		return err
	}
	var pushed int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM outbox_messages WHERE next_attempt_at > created_at").Scan(&pushed); err != nil {
		return err
	}
	if err := p.up(); err != nil {
		return err
	}
	res.outage = time.Since(down)
	stop := w.start(ctx)
	start = time.Now()
	first := make(chan time.Duration, 1)
	go func() {
		_ = waitQuery(ctx, pool, 5*time.Minute, "SELECT EXISTS (SELECT 1 FROM incoming_emails WHERE sync_status = 'synced')")
		first <- time.Since(start)
	}()
	err = waitDrained(ctx, pool, 5*time.Minute)
	res.relayElapsed = time.Since(start)
	res.relayCPU = stop()
	res.firstSynced = <-first
	if err != nil {
		return err
	}
	if err := verifyDrain(ctx, pool, relayStore, n); err != nil {
		return err
	}
	res.relayDocsPerSec = float64(n) / res.relayElapsed.Seconds()
	fmt.Printf("  backlog built by a real outage: MongoDB unreachable for %s while %d emails were ingested "+
		"(%d rows pushed into the future); first email synced %s after it was back, drain %s\n",
		res.outage.Round(time.Millisecond), n, pushed, res.firstSynced.Round(time.Millisecond), res.relayElapsed.Round(time.Millisecond))
	return nil
}

// waitQuery polls a boolean query until it is true.
func waitQuery(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		var ok bool
		if err := pool.QueryRow(ctx, sql).Scan(&ok); err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// outageProxy forwards TCP connections to target (the kernel splices the
// bytes). Down closes its port and cuts its connections, as a store that
// went away; up listens on the same port again.
type outageProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func startOutageProxy(target string) (*outageProxy, error) {
	p := &outageProxy{target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	return p, nil
}

func (p *outageProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[s] = true, true
			p.mu.Unlock()
			go p.pipe(c, s)
			go p.pipe(s, c)
		}
	}()
}

func (p *outageProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

func (p *outageProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
}

func (p *outageProxy) up() error {
	var err error
	for range 100 { // the port may take a moment to free
		var ln net.Listener
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("outage proxy: listen on %s again: %w", p.addr, err)
}

func (p *outageProxy) close() { p.down() }
