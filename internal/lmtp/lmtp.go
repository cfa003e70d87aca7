// Package lmtp is mailsync's LMTP listener (RFC 2033): MTAs such as Postfix
// and Exim deliver to it as to a mailbox store, and get one answer per
// recipient after the message. Each accepted recipient is stored as
// `server deliver` stores it (same envelope, same Idempotency-Key, same
// request fingerprint), through the ingest service in the same process, so
// an MTA that repeats a delivery stores nothing twice.
package lmtp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"mailsync/internal/ingest"
	"mailsync/internal/lifecycle"
)

// ClientID is the API client the listener stores its emails as: idempotency
// keys are scoped per client, so LMTP deliveries share theirs.
const ClientID = "lmtp"

// Defaults of Config.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultReadTimeout = 5 * time.Minute
	DefaultMaxRcpts    = 1000
)

// Ingester stores items; *ingest.Service is one.
type Ingester interface {
	IngestOne(ctx context.Context, clientID string, it ingest.Item) (ingest.Result, error)
}

// Metrics receives the listener's events.
type Metrics interface {
	// SessionOpened and SessionClosed bracket an LMTP session (LHLO to
	// disconnect).
	SessionOpened()
	SessionClosed()
	// ConnectionRefused counts a TCP client outside LMTP_ALLOWED_NETWORKS.
	ConnectionRefused()
	// Recipient counts the answer given for one recipient: stored,
	// replayed, tempfail, refused or too_large.
	Recipient(outcome string)
}

// Config tunes a Server; NewServer fills in the defaults.
type Config struct {
	// Addr is LMTP_ADDR: "unix:/path" or "host:port". Required.
	Addr string
	// Mailbox is LMTP_MAILBOX: the recipient-to-mailbox rules (see
	// mailboxRules); empty stores every email without a mailbox.
	Mailbox string
	// AllowedNetworks is LMTP_ALLOWED_NETWORKS, for TCP only
	// (DefaultAllowedNetworks when empty).
	AllowedNetworks string
	// SocketMode is the unix socket's file mode (DefaultSocketMode when 0).
	SocketMode fs.FileMode
	// MaxMessageBytes is the largest message (MAX_BODY_BYTES), advertised
	// as SIZE; 26214400 when 0.
	MaxMessageBytes int64
	// Timeout bounds storing one message for all its recipients
	// (DefaultTimeout); past it the recipients not yet stored get 451.
	Timeout time.Duration
	// ReadTimeout bounds the wait for a client's next command or data
	// (DefaultReadTimeout).
	ReadTimeout time.Duration
	// Domain is the name in the greeting (the host name when empty).
	Domain string
	// Metrics, when set, counts sessions and recipients.
	Metrics Metrics
	// Now is the clock for messages without a date (time.Now).
	Now func() time.Time
	// Auth says which sender-authentication verdicts an email records, as
	// on the HTTP path (nil: none).
	Auth *ingest.AuthConfig
	// Bodies bounds the message bytes held at once, shared with the HTTP
	// API (MAX_INFLIGHT_BODY_BYTES; nil: no bound). A message takes its
	// declared SIZE, or MaxMessageBytes, before its data is read, waiting
	// up to BodyWait for room; without room in time every recipient gets
	// 451 and the MTA tries again.
	Bodies *ingest.Bodies
	// BodyWait is how long a message waits for room in Bodies (Timeout
	// when 0).
	BodyWait time.Duration
}

// Server is the LMTP listener, a lifecycle service: Start opens the
// listener, Stop stops accepting, lets the transactions in flight finish
// while its ctx lasts, then cuts off what is left.
type Server struct {
	ing   Ingester
	cfg   Config
	addr  address
	nets  []netip.Prefix
	rules mailboxRules
	smtp  *smtp.Server
	group *lifecycle.Group

	mu       sync.Mutex
	draining bool
	sessions map[*session]struct{}
	ln       net.Listener
	served   chan struct{} // closed when Serve returned
	serveErr error
}

// NewServer returns a Server storing through ing, with cfg's defaults
// filled in. It returns an error naming each bad setting (LMTP_ADDR,
// LMTP_MAILBOX, LMTP_ALLOWED_NETWORKS).
func NewServer(ing Ingester, cfg *Config) (*Server, error) {
	c := *cfg
	if c.AllowedNetworks == "" {
		c.AllowedNetworks = DefaultAllowedNetworks
	}
	if c.SocketMode == 0 {
		c.SocketMode = DefaultSocketMode
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 26214400
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.Domain == "" {
		c.Domain, _ = os.Hostname()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	s := &Server{ing: ing, cfg: c, sessions: map[*session]struct{}{}, served: make(chan struct{}),
		group: lifecycle.NewGroup("LMTP listener", "LMTP transactions in flight")}
	var errs []error
	var err error
	if s.addr, err = parseAddr(c.Addr); err != nil {
		errs = append(errs, err)
	}
	if s.nets, err = parseNetworks(c.AllowedNetworks); err != nil {
		errs = append(errs, err)
	}
	if s.rules, err = parseMailboxRules(c.Mailbox); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	srv := smtp.NewServer(backend{s})
	srv.LMTP = true
	srv.Domain = c.Domain
	srv.MaxMessageBytes = c.MaxMessageBytes
	// go-smtp's line limit (2,000 bytes) holds inside DATA too, where a
	// longer line (HTML without line breaks, base64 unwrapped) would fail
	// the message with a 451 the MTA retries until it bounces. A line is
	// bounded by the message's size, as on the HTTP path.
	srv.MaxLineLength = int(c.MaxMessageBytes)
	srv.MaxRecipients = DefaultMaxRcpts
	srv.ReadTimeout = c.ReadTimeout
	srv.WriteTimeout = time.Minute
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slogLogger{}
	s.smtp = srv
	return s, nil
}

// Start opens the listener and serves on it. It returns an error when the
// address cannot be listened on.
func (s *Server) Start(ctx context.Context) error {
	ln, err := listen(s.addr, s.cfg.SocketMode)
	if err != nil {
		return err
	}
	if err := s.group.Start(ctx); err != nil {
		_ = ln.Close()
		return err
	}
	if s.addr.network == "tcp" {
		ln = allowList{Listener: ln, nets: s.nets, refused: func(remote string) {
			s.cfg.Metrics.ConnectionRefused()
			slog.Warn("LMTP client refused: not in LMTP_ALLOWED_NETWORKS", "remote", remote)
		}}
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	slog.Info("LMTP listening", "addr", ln.Addr().String(), "max_message_bytes", s.cfg.MaxMessageBytes)
	go func() {
		err := s.smtp.Serve(ln)
		s.mu.Lock()
		if !s.draining {
			s.serveErr = err
			slog.Error("LMTP listener stopped", "err", err)
		}
		s.mu.Unlock()
		close(s.served)
	}()
	return nil
}

// Addr is the address the listener listens on (nil before Start).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Ping reports whether the listener accepts deliveries: started, not
// stopping, still serving, and its unix socket file still in place. It is
// the listener's /readyz check.
func (s *Server) Ping(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.ln == nil:
		return errors.New("not listening")
	case s.draining:
		return errors.New("shutting down")
	case s.serveErr != nil:
		return fmt.Errorf("stopped: %v", s.serveErr)
	}
	if s.addr.network == "unix" {
		if fi, err := os.Lstat(s.addr.addr); err != nil || fi.Mode()&fs.ModeSocket == 0 {
			return fmt.Errorf("the socket %s is gone", s.addr.addr)
		}
	}
	return nil
}

// Stop stops accepting connections and closes the idle sessions at once; a
// session in a transaction finishes it (its answers included) while ctx
// lasts and is closed after. When ctx ends first, the transactions left are
// cut off (their recipients not yet stored get 451 if the connection still
// takes it) and Stop returns an error naming them.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	ln := s.ln
	var idle []*session
	for ss := range s.sessions {
		if !ss.inTx {
			idle = append(idle, ss)
		}
	}
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	for _, ss := range idle {
		ss.hangUp()
	}
	err := s.group.Stop(ctx)
	_ = s.smtp.Close() // every connection left; nil error or ErrServerClosed
	if ln != nil {
		<-s.served
	}
	return err
}

// slogLogger sends go-smtp's internal errors to slog.
type slogLogger struct{}

func (slogLogger) Printf(format string, v ...any) { slog.Warn("LMTP: " + fmt.Sprintf(format, v...)) }
func (slogLogger) Println(v ...any)               { slog.Warn("LMTP: " + fmt.Sprint(v...)) }

type noMetrics struct{}

func (noMetrics) SessionOpened()     {}
func (noMetrics) SessionClosed()     {}
func (noMetrics) ConnectionRefused() {}
func (noMetrics) Recipient(string)   {}
