package handlers

import (
	"bytes"
	"cmp"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The connection limits keep clients that open connections and send
// nothing from starving the others: every open connection holds one of
// MaxConnections slots; a connection that has not sent its first request
// line within RequestLineTimeout is closed; at the cap, a new connection
// takes the place of an idle keep-alive connection or of one that has not
// yet sent a whole request line (the oldest first); and one client address
// holds at most MaxConnectionsPerAddress connections.

// connLimiter holds a slot per open connection and knows which connections
// may be evicted.
type connLimiter struct {
	slots       chan struct{}
	perAddr     int // <= 0: no per-address cap
	lineTimeout time.Duration
	// wentIdle is signalled when a connection turns idle, for an Accept
	// waiting at the cap.
	wentIdle chan struct{}
	mu       sync.Mutex
	conns    map[*limitedConn]struct{}
	byAddr   map[string]int
}

func newConnLimiter(n, perAddr int, lineTimeout time.Duration) *connLimiter {
	return &connLimiter{slots: make(chan struct{}, n), perAddr: perAddr, lineTimeout: lineTimeout,
		wentIdle: make(chan struct{}, 1), conns: map[*limitedConn]struct{}{}, byAddr: map[string]int{}}
}

func (l *connLimiter) open() int { return len(l.slots) }

// track is the server's ConnState hook.
func (l *connLimiter) track(c net.Conn, s http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lc.state = s
	if s == http.StateIdle {
		select {
		case l.wentIdle <- struct{}{}:
		default:
		}
	}
}

// victim picks the connection to close to make room: of addr's
// connections (every connection when addr is ""), an idle one, else one
// that has not sent a whole request line and has no bytes waiting to be
// read (a connection just accepted whose request is on its way is not
// silent): of the address holding the most connections, the oldest; nil
// when every one is busy.
func (l *connLimiter) victim(addr string) *limitedConn {
	l.mu.Lock()
	var silent []*limitedConn
	for c := range l.conns {
		if addr != "" && c.addr != addr {
			continue
		}
		switch {
		case c.state == http.StateIdle:
			l.mu.Unlock()
			return c
		case !c.lineDone.Load():
			silent = append(silent, c)
		}
	}
	held := make(map[string]int, len(l.byAddr))
	for a, n := range l.byAddr {
		held[a] = n
	}
	l.mu.Unlock()
	// The address holding the most connections gives one up first.
	slices.SortFunc(silent, func(a, b *limitedConn) int {
		return cmp.Or(cmp.Compare(held[b.addr], held[a.addr]), a.since.Compare(b.since))
	})
	for _, c := range silent {
		if !pending(c.Conn) {
			return c
		}
	}
	return nil
}

// add registers c once it holds a slot, and closes it when its first
// request line has not arrived within the timeout.
func (l *connLimiter) add(c *limitedConn) {
	l.mu.Lock()
	l.conns[c] = struct{}{}
	l.byAddr[c.addr]++
	l.mu.Unlock()
	c.timer = time.AfterFunc(l.lineTimeout, func() {
		if !c.lineDone.Load() {
			_ = c.Close()
		}
	})
}

// remove gives c's slot back.
func (l *connLimiter) remove(c *limitedConn) {
	l.mu.Lock()
	delete(l.conns, c)
	if l.byAddr[c.addr]--; l.byAddr[c.addr] <= 0 {
		delete(l.byAddr, c.addr)
	}
	l.mu.Unlock()
	<-l.slots
}

func (l *connLimiter) count(addr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byAddr[addr]
}

func (l *connLimiter) wrap(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, l: l, done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	l         *connLimiter
	done      chan struct{}
	closeOnce sync.Once
}

// Accept accepts a connection and gives it a slot: at the per-address cap
// it takes the place of one of its address's evictable connections (or is
// closed when there is none); at the global cap, of any evictable one; when
// none is evictable it waits for a slot, or for the listener to close.
func (ll *limitListener) Accept() (net.Conn, error) {
	l := ll.l
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc := &limitedConn{Conn: c, l: l, addr: hostOf(c.RemoteAddr()), since: time.Now(), state: http.StateNew}
		if l.perAddr > 0 && l.count(lc.addr) >= l.perAddr {
			v := l.victim(lc.addr)
			if v == nil {
				_ = c.Close() // every connection of the address is busy
				continue
			}
			_ = v.Close()
		}
		if !ll.takeSlot() {
			_ = c.Close()
			return nil, net.ErrClosed
		}
		l.add(lc)
		return lc, nil
	}
}

// takeSlot takes a free slot, closing an evictable connection to make one
// when none is free, and waits when none is evictable; false when the
// listener closed meanwhile.
func (ll *limitListener) takeSlot() bool {
	l := ll.l
	for {
		select {
		case l.slots <- struct{}{}:
			return true
		default:
		}
		if v := l.victim(""); v != nil {
			_ = v.Close() // gives its slot back
			continue
		}
		select {
		case l.slots <- struct{}{}:
			return true
		case <-l.wentIdle:
		case <-ll.done:
			return false
		}
	}
}

func (ll *limitListener) Close() error {
	err := ll.Listener.Close()
	ll.closeOnce.Do(func() { close(ll.done) })
	return err
}

// hostOf is the IP address of a remote address ("" when it has none, e.g.
// a Unix socket, which then shares one per-address budget).
func hostOf(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// limitedConn is a connection holding a slot.
type limitedConn struct {
	net.Conn
	l     *connLimiter
	addr  string
	since time.Time
	state http.ConnState // guarded by l.mu
	timer *time.Timer
	// lineDone is set once the first request line (its newline) arrived.
	lineDone atomic.Bool
	once     sync.Once
}

func (c *limitedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.lineDone.Load() && bytes.IndexByte(b[:n], '\n') >= 0 {
		c.lineDone.Store(true)
	}
	return n, err
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.timer != nil {
			c.timer.Stop()
		}
		c.l.remove(c)
	})
	return err
}
