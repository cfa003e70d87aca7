package handlers

import (
	"context"
	"net"
	"net/http"
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
	// DefaultRequestLineTimeout is how long a new connection may take to
	// send its first request line.
	DefaultRequestLineTimeout = 2 * time.Second
)

// ServerConfig sets the limits of the HTTP server. Zero values take the
// defaults above.
type ServerConfig struct {
	// MaxConnections caps the open client connections (MAX_CONNECTIONS).
	// At the cap a new connection takes the place of one that is idle
	// (keep-alive) or has not yet sent a whole request line, the oldest
	// first; when every connection is busy, it waits for a slot.
	MaxConnections int
	// MaxConnectionsPerAddress caps the open connections of one client IP
	// address (MAX_CONNECTIONS_PER_ADDRESS); at the cap a new connection of
	// the address takes the place of one of its own that is idle or silent,
	// and is closed at once when there is none. Zero is half of
	// MaxConnections; negative turns the cap off.
	MaxConnectionsPerAddress int
	// RequestLineTimeout is how long a new connection may take to send its
	// first request line (HTTP_REQUEST_LINE_TIMEOUT); it is closed beyond.
	RequestLineTimeout time.Duration
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
	def(&cfg.RequestLineTimeout, DefaultRequestLineTimeout)
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.MaxConnectionsPerAddress == 0 {
		cfg.MaxConnectionsPerAddress = max(cfg.MaxConnections/2, 1)
	}
	lim := newConnLimiter(cfg.MaxConnections, cfg.MaxConnectionsPerAddress, cfg.RequestLineTimeout)
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
