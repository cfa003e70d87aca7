package handlers

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of ServerConfig.
const (
	DefaultMaxConnections    = 1024
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 30 * time.Second
)

// ServerConfig sets the limits of the HTTP server. Zero values take the
// defaults above.
type ServerConfig struct {
	// MaxConnections caps the open client connections (MAX_CONNECTIONS).
	// At the cap the server closes an idle keep-alive connection to make
	// room; when none is idle, new connections wait in the listen backlog.
	MaxConnections int
	// ReadHeaderTimeout and ReadTimeout bound reading the headers and the
	// whole request; a body that is too slow is answered 408.
	ReadHeaderTimeout, ReadTimeout time.Duration
	// WriteTimeout bounds writing the response; IdleTimeout how long a
	// keep-alive connection may wait for its next request.
	WriteTimeout, IdleTimeout time.Duration
	// BaseContext is the parent of every request's context.
	BaseContext context.Context
	// Registerer receives mailsync_http_open_connections (none when nil).
	Registerer prometheus.Registerer
}

// Server is an http.Server whose listener is capped by MaxConnections.
type Server struct {
	*http.Server
	lim *connLimiter
}

// NewServer returns a server for h with cfg's limits.
func NewServer(h http.Handler, cfg ServerConfig) *Server {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&cfg.ReadTimeout, DefaultReadTimeout)
	def(&cfg.WriteTimeout, DefaultWriteTimeout)
	def(&cfg.IdleTimeout, DefaultIdleTimeout)
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	lim := newConnLimiter(cfg.MaxConnections)
	srv := &http.Server{
		Handler: h, ReadHeaderTimeout: cfg.ReadHeaderTimeout, ReadTimeout: cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout, MaxHeaderBytes: 64 << 10,
		ConnState: lim.track,
	}
	if cfg.BaseContext != nil {
		srv.BaseContext = func(net.Listener) context.Context { return cfg.BaseContext }
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mailsync_http_open_connections", Help: "Open HTTP client connections.",
		}, func() float64 { return float64(lim.open()) }))
	}
	return &Server{Server: srv, lim: lim}
}

// Serve accepts connections on ln, at most MaxConnections at a time.
func (s *Server) Serve(ln net.Listener) error {
	return s.Server.Serve(s.lim.wrap(ln))
}

// OpenConnections returns the number of client connections now open.
func (s *Server) OpenConnections() int { return s.lim.open() }

// connLimiter holds a slot per open connection and knows which are idle.
type connLimiter struct {
	slots chan struct{}
	// wentIdle is signalled when a connection turns idle, for an Accept
	// waiting at the cap.
	wentIdle chan struct{}
	mu       sync.Mutex
	idle     map[net.Conn]struct{}
}

func newConnLimiter(n int) *connLimiter {
	return &connLimiter{slots: make(chan struct{}, n), wentIdle: make(chan struct{}, 1), idle: map[net.Conn]struct{}{}}
}

func (l *connLimiter) open() int { return len(l.slots) }

// track is the server's ConnState hook.
func (l *connLimiter) track(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s == http.StateIdle {
		l.idle[c] = struct{}{}
		select {
		case l.wentIdle <- struct{}{}:
		default:
		}
	} else {
		delete(l.idle, c)
	}
}

// closeIdle closes one idle keep-alive connection, if any.
func (l *connLimiter) closeIdle() {
	l.mu.Lock()
	var victim net.Conn
	for c := range l.idle {
		victim = c
		delete(l.idle, c)
		break
	}
	l.mu.Unlock()
	if victim != nil {
		_ = victim.Close()
	}
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

// Accept takes a slot before accepting: when none is free it closes an idle
// connection (now, or as soon as one turns idle) and waits for its slot, or
// for the listener to close.
func (ll *limitListener) Accept() (net.Conn, error) {
	for acquired := false; !acquired; {
		select {
		case ll.l.slots <- struct{}{}:
			acquired = true
			continue
		default:
		}
		ll.l.closeIdle()
		select {
		case ll.l.slots <- struct{}{}:
			acquired = true
		case <-ll.l.wentIdle:
		case <-ll.done:
			return nil, net.ErrClosed
		}
	}
	c, err := ll.Listener.Accept()
	if err != nil {
		<-ll.l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-ll.l.slots }}, nil
}

func (ll *limitListener) Close() error {
	err := ll.Listener.Close()
	ll.closeOnce.Do(func() { close(ll.done) })
	return err
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
