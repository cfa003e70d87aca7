package lmtp

import (
	"context"
	"io"

	"github.com/emersion/go-smtp"

	"mailsync/internal/ingest"
)

// errShuttingDown answers a new session or transaction while the listener
// stops: the MTA keeps the message queued and tries again.
var errShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2},
	Message: "mailsync is shutting down; try again later"}

// backend creates a session per LHLO.
type backend struct{ s *Server }

// NewSession registers the session of c, or refuses it with 421 when the
// listener stops.
func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s := b.s
	ss := &session{s: s, conn: c, remote: c.Conn().RemoteAddr().String()}
	if s.addr.network == "unix" {
		ss.remote = "unix:" + s.addr.addr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return nil, errShuttingDown
	}
	s.sessions[ss] = struct{}{}
	s.cfg.Metrics.SessionOpened()
	return ss, nil
}

// session is one LMTP session. A transaction (MAIL to the answers after
// DATA, or RSET) is work in flight for Stop.
type session struct {
	s      *Server
	conn   *smtp.Conn
	remote string

	// guarded by s.mu
	inTx  bool
	ctx   context.Context // the transaction's, ended by Stop's cut-off
	leave func()

	from  string
	size  int64 // the SIZE the client declared with MAIL (0: none)
	rcpts []string
}

var _ smtp.LMTPSession = (*session)(nil)

// Mail begins a transaction with envelope sender from ("" for a bounce).
func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return errShuttingDown
	}
	ctx, leave, ok := s.group.Join(context.Background())
	if !ok {
		return errShuttingDown
	}
	ss.inTx, ss.ctx, ss.leave = true, ctx, leave
	ss.from, ss.size = from, 0
	if opts != nil {
		ss.size = opts.Size
	}
	return nil
}

// Rcpt adds a recipient. Every recipient is accepted here: whether its
// email is stored is answered after the message.
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	ss.rcpts = append(ss.rcpts, to)
	ss.s.mu.Unlock()
	return nil
}

// Data is not used over LMTP (LMTPData is); it answers with the first
// recipient's failure, else the first recipient's answer.
func (ss *session) Data(r io.Reader) error {
	answers := ss.data(r)
	for _, err := range answers {
		if se, ok := err.(*smtp.SMTPError); ok && se.Code >= 400 {
			return err
		}
	}
	if len(answers) == 0 {
		return nil
	}
	return answers[0]
}

// LMTPData reads the message and sets one status per recipient.
func (ss *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	ss.s.mu.Lock()
	rcpts := append([]string(nil), ss.rcpts...)
	ss.s.mu.Unlock()
	for i, err := range ss.data(r) {
		status.SetStatus(rcpts[i], err)
	}
	return nil
}

// data reads the message and stores it for every recipient of the
// transaction, within the listener's timeout; it returns an answer per
// recipient, in order (nil: stored). The message takes its room in the
// shared bound on bodies in memory before it is read.
func (ss *session) data(r io.Reader) []error {
	s := ss.s
	s.mu.Lock()
	ctx, from, size, rcpts := ss.ctx, ss.from, ss.size, append([]string(nil), ss.rcpts...)
	s.mu.Unlock()
	if ctx == nil { // no MAIL: go-smtp never gets here
		ctx = context.Background()
	}
	if size > s.cfg.MaxMessageBytes {
		size = 0
	}
	weight := size
	if weight <= 0 {
		weight = s.cfg.MaxMessageBytes
	}
	waitFor := s.cfg.BodyWait
	if waitFor <= 0 {
		waitFor = s.cfg.Timeout
	}
	wait, cancelWait := context.WithTimeout(ctx, waitFor)
	release, err := s.cfg.Bodies.Acquire(wait, weight)
	cancelWait()
	if err != nil {
		return ss.failAll(rcpts, reply(451, 4, 3, 1, "mailsync is busy with other large messages; try again later"))
	}
	defer release()
	raw, err := ingest.ReadBody(sizedReader{Reader: r, size: size})
	if err != nil {
		return ss.failAll(rcpts, readError(err))
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	return s.deliver(ctx, raw, from, rcpts, ss.remote)
}

// failAll answers every recipient with err.
func (ss *session) failAll(rcpts []string, err error) []error {
	out := make([]error, len(rcpts))
	for i := range out {
		out[i] = err
		ss.s.cfg.Metrics.Recipient(outcomeOf(err))
	}
	return out
}

// sizedReader is message data whose size the client declared (0: not
// declared): ingest.ReadBody reads it into one buffer of that size.
type sizedReader struct {
	io.Reader
	size int64
}

func (r sizedReader) DeclaredSize() int64 { return r.size }

// Reset ends the transaction. While the listener stops, the session is
// closed after it: its answers are written by then.
func (ss *session) Reset() {
	s := ss.s
	s.mu.Lock()
	ss.from, ss.rcpts = "", nil
	wasInTx := ss.endTx()
	draining := s.draining
	s.mu.Unlock()
	if wasInTx && draining {
		ss.hangUp()
	}
}

// Logout ends the session.
func (ss *session) Logout() error {
	s := ss.s
	s.mu.Lock()
	ss.endTx()
	if _, ok := s.sessions[ss]; ok {
		delete(s.sessions, ss)
		s.cfg.Metrics.SessionClosed()
	}
	s.mu.Unlock()
	return nil
}

// endTx ends the transaction in flight, if any; s.mu must be held.
func (ss *session) endTx() bool {
	if !ss.inTx {
		return false
	}
	ss.inTx, ss.ctx = false, nil
	ss.leave()
	return true
}

// hangUp closes the connection under the session; its goroutine then
// returns and logs out.
func (ss *session) hangUp() { _ = ss.conn.Conn().Close() }
