// Package metrics defines mailsync's Prometheus metrics: counters fed by the
// ingest, relay and maintenance services, and gauges read from PostgreSQL at
// scrape time (outbox backlog, reconciliation drift, pool stats).
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the counters the services increment. Its methods satisfy
// ingest.Metrics, relay.Metrics and maintenance.Metrics.
type Metrics struct {
	ingested  prometheus.Counter
	replayed  prometheus.Counter
	batches   prometheus.Counter
	documents prometheus.Counter
	retries   prometheus.Counter
	dead      prometheus.Counter
	deleted   *prometheus.CounterVec
}

// New registers the counters on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ingested: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailsync_emails_ingested_total",
			Help: "Emails stored for the first time."}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailsync_idempotent_replays_total",
			Help: "Ingest requests answered from an earlier request with the same Idempotency-Key (including refusals)."}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailsync_relay_batches_total",
			Help: "Outbox batches the relay wrote to MongoDB and marked done."}),
		documents: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailsync_relay_documents_written_total",
			Help: "Documents the relay wrote to MongoDB."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailsync_relay_retries_total",
			Help: "Outbox messages scheduled for another attempt after a failure."}),
		dead: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailsync_relay_dead_letters_total",
			Help: "Outbox messages that failed for good (their email is failed until re-driven)."}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailsync_retention_deleted_total",
			Help: "Rows deleted by retention, by table."}, []string{"table"}),
	}
	reg.MustRegister(m.ingested, m.replayed, m.batches, m.documents, m.retries, m.dead, m.deleted)
	return m
}

// Ingested counts newly stored emails.
func (m *Metrics) Ingested(n int) { m.ingested.Add(float64(n)) }

// Replayed counts requests answered from an earlier one.
func (m *Metrics) Replayed(n int) { m.replayed.Add(float64(n)) }

// Batch counts one relayed batch of docs documents.
func (m *Metrics) Batch(docs int) {
	m.batches.Inc()
	m.documents.Add(float64(docs))
}

// Retried counts messages scheduled for another attempt.
func (m *Metrics) Retried(n int) { m.retries.Add(float64(n)) }

// Dead counts dead-lettered messages.
func (m *Metrics) Dead(n int) { m.dead.Add(float64(n)) }

// Deleted counts rows removed from table by retention.
func (m *Metrics) Deleted(table string, n int64) { m.deleted.WithLabelValues(table).Add(float64(n)) }
