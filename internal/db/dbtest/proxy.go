package dbtest

import (
	"context"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards TCP connections from a kernel-chosen loopback port to a
// server (PostgreSQL, MongoDB), so that a test can break the network between
// its client and the server without touching the server: BlackHole holds
// every byte (as a network that drops everything), Restore lets them through
// again, Refuse closes the port and every connection (as a server that is
// down), and Throttle slows down what clients send.
type Proxy struct {
	// Addr is the host:port clients dial instead of the server's.
	Addr string

	target string
	ln     net.Listener
	ctx    context.Context // ends when the proxy stops forwarding for good
	cancel context.CancelFunc
	limit  atomic.Int64 // client → server bytes per second; 0: unlimited
	wg     sync.WaitGroup

	mu    sync.Mutex
	held  chan struct{} // non-nil while black-holed; closed by Restore
	conns map[net.Conn]struct{}
}

// ProxyURL starts a proxy (NewProxy) to the server of the database URL
// dbURL and returns it with dbURL's address replaced by the proxy's: a pool
// opened on that URL reaches the same database through the proxy.
func ProxyURL(t testing.TB, dbURL string) (*Proxy, string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("dbtest: proxy: %v", err)
	}
	p := NewProxy(t, u.Host)
	u.Host = p.Addr
	return p, u.String()
}

// NewProxy starts a proxy to target (host:port) for t and stops it when t
// ends. It fails t if it cannot listen.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dbtest: proxy: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		p.Refuse()
		p.wg.Wait()
	})
	return p
}

// BlackHole stops all traffic: open connections stay open and new ones are
// accepted, but no byte gets through in either direction until Restore.
func (p *Proxy) BlackHole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held == nil {
		p.held = make(chan struct{})
	}
}

// Restore ends a black hole: the bytes held are forwarded, and what follows.
// It cannot undo Refuse.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held != nil {
		close(p.held)
		p.held = nil
	}
}

// Refuse closes the port and every connection for good: new connections
// are refused, as when the server is down.
func (p *Proxy) Refuse() {
	p.cancel()
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// Throttle limits what clients send to the server to bytesPerSecond
// (0: unlimited); what the server sends back is not limited.
func (p *Proxy) Throttle(bytesPerSecond int) { p.limit.Store(int64(bytesPerSecond)) }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.forward(c)
		}()
	}
}

// forward connects client c to the target, once any black hole is over,
// and copies both ways until either side closes.
func (p *Proxy) forward(c net.Conn) {
	if !p.track(c) {
		return
	}
	defer p.untrack(c)
	if !p.pass() {
		return
	}
	s, err := (&net.Dialer{}).DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(s) {
		return
	}
	defer p.untrack(s)
	var pair sync.WaitGroup
	pair.Add(2)
	go func() { defer pair.Done(); p.pipe(s, c, true) }()
	go func() { defer pair.Done(); p.pipe(c, s, false) }()
	pair.Wait()
}

// pipe copies src to dst, holding bytes during a black hole and pacing
// uploads by the throttle, and closes both when either ends.
func (p *Proxy) pipe(dst, src net.Conn, upload bool) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.pass() {
				return
			}
			if limit := p.limit.Load(); upload && limit > 0 && !p.sleep(time.Duration(n)*time.Second/time.Duration(limit)) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pass waits out a black hole; false when the proxy stopped meanwhile.
func (p *Proxy) pass() bool {
	p.mu.Lock()
	held := p.held
	p.mu.Unlock()
	if held == nil {
		return p.ctx.Err() == nil
	}
	select {
	case <-held:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// sleep waits d (the throttle's pace); false when the proxy stopped first.
func (p *Proxy) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// track registers c so that Refuse closes it; after Refuse it closes c and
// returns false.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	_ = c.Close()
}
