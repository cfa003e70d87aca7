package main

import (
	"context"
	"fmt"
	"io/fs"
	"strconv"

	"mailsync/internal/ingest"
	"mailsync/internal/lmtp"
	"mailsync/internal/metrics"

	"github.com/prometheus/client_golang/prometheus"
)

// lmtpSettings is the LMTP listener's part of the configuration.
type lmtpSettings struct {
	Addr            string      // LMTP_ADDR: unix:/path or host:port; empty: no listener
	Mailbox         string      // LMTP_MAILBOX: recipient-to-mailbox rules
	AllowedNetworks string      // LMTP_ALLOWED_NETWORKS: TCP clients allowed (loopback)
	SocketMode      fs.FileMode // LMTP_SOCKET_MODE: the unix socket's mode (0660)
}

// parseLMTP reads the LMTP_* variables and, when LMTP_ADDR is set, checks
// them; bad values are added to e's errors, each naming its variable.
func parseLMTP(e env) lmtpSettings {
	s := lmtpSettings{
		Addr:            e.str("LMTP_ADDR", ""),
		Mailbox:         e.str("LMTP_MAILBOX", ""),
		AllowedNetworks: e.str("LMTP_ALLOWED_NETWORKS", lmtp.DefaultAllowedNetworks),
		SocketMode:      lmtp.DefaultSocketMode,
	}
	if v := e.str("LMTP_SOCKET_MODE", ""); v != "" {
		m, err := strconv.ParseUint(v, 8, 32)
		if err != nil || m > 0o777 {
			*e.errs = append(*e.errs, fmt.Errorf("LMTP_SOCKET_MODE=%q is not an octal file mode like 0660", v))
		}
		s.SocketMode = fs.FileMode(m)
	}
	if s.Addr != "" {
		if _, err := lmtp.NewServer(nil, s.config(0, nil)); err != nil {
			*e.errs = append(*e.errs, err)
		}
	}
	return s
}

// config is the listener's configuration.
func (s lmtpSettings) config(maxBytes int64, m lmtp.Metrics) *lmtp.Config {
	return &lmtp.Config{Addr: s.Addr, Mailbox: s.Mailbox, AllowedNetworks: s.AllowedNetworks,
		SocketMode: s.SocketMode, MaxMessageBytes: maxBytes, Metrics: m}
}

// startLMTP starts the LMTP listener on LMTP_ADDR, storing through ing;
// nil when LMTP_ADDR is empty. Each recipient has REQUEST_TIMEOUT to be
// stored, the largest message is MAX_BODY_BYTES, and its messages count
// against MAX_INFLIGHT_BODY_BYTES with the HTTP request bodies (bodies).
func startLMTP(ctx context.Context, cfg config, ing *ingest.Service, bodies *ingest.Bodies, reg prometheus.Registerer) (*lmtp.Server, error) {
	if cfg.LMTP.Addr == "" {
		return nil, nil
	}
	c := cfg.LMTP.config(cfg.MaxBodyBytes, metrics.NewLMTP(reg))
	c.Timeout = cfg.RequestTimeout
	c.Auth = cfg.authConfig()
	c.Bodies = bodies
	srv, err := lmtp.NewServer(ing, c)
	if err != nil {
		return nil, err
	}
	return srv, srv.Start(ctx)
}
