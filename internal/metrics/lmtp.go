package metrics

import "github.com/prometheus/client_golang/prometheus"

// LMTP holds the LMTP listener's metrics; it satisfies lmtp.Metrics.
type LMTP struct {
	sessions   prometheus.Counter
	active     prometheus.Gauge
	refused    prometheus.Counter
	recipients *prometheus.CounterVec
}

// NewLMTP registers the LMTP listener's metrics on reg.
func NewLMTP(reg prometheus.Registerer) *LMTP {
	m := &LMTP{
		sessions: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailsync_lmtp_sessions_total",
			Help: "LMTP sessions opened (LHLO)."}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mailsync_lmtp_sessions_active",
			Help: "LMTP sessions open now."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailsync_lmtp_connections_refused_total",
			Help: "TCP connections refused because the client is not in LMTP_ALLOWED_NETWORKS."}),
		recipients: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailsync_lmtp_recipients_total",
			Help: "LMTP recipients answered after the message, by outcome: stored, replayed (stored before), " +
				"tempfail (451: the MTA retries), refused (5xx), too_large (552)."}, []string{"outcome"}),
	}
	for _, o := range []string{"stored", "replayed", "tempfail", "refused", "too_large"} {
		m.recipients.WithLabelValues(o)
	}
	reg.MustRegister(m.sessions, m.active, m.refused, m.recipients)
	return m
}

// SessionOpened counts a new session.
func (m *LMTP) SessionOpened() {
	m.sessions.Inc()
	m.active.Inc()
}

// SessionClosed counts a session's end.
func (m *LMTP) SessionClosed() { m.active.Dec() }

// ConnectionRefused counts a client outside the allowed networks.
func (m *LMTP) ConnectionRefused() { m.refused.Inc() }

// Recipient counts one recipient's answer.
func (m *LMTP) Recipient(outcome string) { m.recipients.WithLabelValues(outcome).Inc() }
