package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"mailsync/internal/db"
)

// Collector reads the backlog, the last reconciliation's drift and the pool
// statistics from PostgreSQL when Prometheus scrapes, so every instance
// reports the shared truth rather than its own share of it.
type Collector struct {
	pool *pgxpool.Pool
	q    *db.Queries

	outbox, oldest, drift, poolConns *prometheus.Desc
	emails                           *prometheus.Desc
	erasureFailed, erasureOpen       *prometheus.Desc
	erasureOldest                    *prometheus.Desc
	poolAcquires, poolWait           *prometheus.Desc
	blobs, blobBytes                 *prometheus.Desc
	relayPaused, relayPausedFor      *prometheus.Desc
}

// NewCollector returns a collector over pool; register it on a registry.
func NewCollector(pool *pgxpool.Pool) *Collector {
	return &Collector{
		pool: pool, q: db.New(pool),
		outbox:         prometheus.NewDesc("mailsync_outbox_messages", "Outbox messages by state (pending, in_flight, failed).", []string{"state"}, nil),
		emails:         prometheus.NewDesc("mailsync_emails", "Emails by sync status (exact; kept by triggers, read without counting the table).", []string{"status"}, nil),
		oldest:         prometheus.NewDesc("mailsync_outbox_oldest_pending_age_seconds", "Age of the oldest unprocessed outbox message.", nil, nil),
		drift:          prometheus.NewDesc("mailsync_reconciliation_mismatches", "Mismatches found by the latest completed reconciliation, by kind.", []string{"kind"}, nil),
		erasureFailed:  prometheus.NewDesc("mailsync_erasure_jobs_failed_total", "Erasure jobs that failed for good (ever).", nil, nil),
		erasureOpen:    prometheus.NewDesc("mailsync_erasure_jobs_open", "Erasure jobs pending or running.", nil, nil),
		erasureOldest:  prometheus.NewDesc("mailsync_erasure_oldest_open_age_seconds", "Age of the oldest pending or running erasure job (0: none).", nil, nil),
		poolConns:      prometheus.NewDesc("mailsync_db_pool_connections", "PostgreSQL pool connections by state (idle, acquired, total, max).", []string{"state"}, nil),
		poolAcquires:   prometheus.NewDesc("mailsync_db_pool_acquires_total", "PostgreSQL pool acquisitions.", nil, nil),
		poolWait:       prometheus.NewDesc("mailsync_db_pool_acquire_wait_seconds_total", "Time spent waiting for a PostgreSQL connection.", nil, nil),
		blobs:          prometheus.NewDesc("mailsync_blobs", "Blobs (raw messages, attachment bytes) by store (postgresql, mongodb: written completely); kept by triggers.", []string{"store"}, nil),
		blobBytes:      prometheus.NewDesc("mailsync_blob_bytes", "Bytes of the blobs by store (postgresql, mongodb).", []string{"store"}, nil),
		relayPaused:    prometheus.NewDesc("mailsync_relay_paused", "1 while the relay is paused (POST /v1/relay/pause), for every instance; 0 otherwise.", nil, nil),
		relayPausedFor: prometheus.NewDesc("mailsync_relay_paused_seconds", "How long the relay has been paused; 0 while it runs.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.emails, c.outbox, c.oldest, c.drift, c.poolConns, c.poolAcquires, c.poolWait,
		c.erasureFailed, c.erasureOpen, c.erasureOldest, c.blobs, c.blobBytes, c.relayPaused, c.relayPausedFor} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A failed query leaves its metrics
// out of this scrape (and is logged) rather than failing the scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if b, err := c.q.BlobCounts(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.blobs, prometheus.GaugeValue, float64(b.PostgresBlobs), "postgresql")
		ch <- prometheus.MustNewConstMetric(c.blobs, prometheus.GaugeValue, float64(b.MongoBlobs), "mongodb")
		ch <- prometheus.MustNewConstMetric(c.blobBytes, prometheus.GaugeValue, float64(b.PostgresBytes), "postgresql")
		ch <- prometheus.MustNewConstMetric(c.blobBytes, prometheus.GaugeValue, float64(b.MongoBytes), "mongodb")
	} else {
		slog.Warn("metrics: blob counts", "err", err)
	}
	if s, err := c.q.OutboxStats(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(s.Pending), "pending")
		ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(s.InFlight), "in_flight")
		ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(s.Failed), "failed")
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, s.OldestPendingAgeSeconds)
	} else {
		slog.Warn("metrics: outbox stats", "err", err)
	}
	if counts, err := c.q.CountEmailsByStatus(ctx); err == nil {
		for status, n := range counts {
			ch <- prometheus.MustNewConstMetric(c.emails, prometheus.GaugeValue, float64(n), status)
		}
	} else {
		slog.Warn("metrics: email counts", "err", err)
	}
	if r, err := c.q.LatestReport(ctx); err != nil {
		slog.Warn("metrics: latest reconciliation", "err", err)
	} else if r != nil && r.Status == "completed" {
		for kind, n := range r.Details.Counts {
			ch <- prometheus.MustNewConstMetric(c.drift, prometheus.GaugeValue, float64(n), kind)
		}
	}
	if e, err := c.q.ErasureJobStats(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.erasureFailed, prometheus.CounterValue, float64(e.Failed))
		ch <- prometheus.MustNewConstMetric(c.erasureOpen, prometheus.GaugeValue, float64(e.Open))
		ch <- prometheus.MustNewConstMetric(c.erasureOldest, prometheus.GaugeValue, e.OldestOpenAgeSeconds)
	} else {
		slog.Warn("metrics: erasure jobs", "err", err)
	}
	if rc, err := c.q.GetRelayControl(ctx); err == nil {
		paused, since := 0.0, 0.0
		if rc.Paused {
			paused = 1
			if rc.PausedSince != nil {
				since = max(0, time.Since(*rc.PausedSince).Seconds())
			}
		}
		ch <- prometheus.MustNewConstMetric(c.relayPaused, prometheus.GaugeValue, paused)
		ch <- prometheus.MustNewConstMetric(c.relayPausedFor, prometheus.GaugeValue, since)
	} else {
		slog.Warn("metrics: relay control", "err", err)
	}
	st := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.poolConns, prometheus.GaugeValue, float64(st.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(c.poolConns, prometheus.GaugeValue, float64(st.AcquiredConns()), "acquired")
	ch <- prometheus.MustNewConstMetric(c.poolConns, prometheus.GaugeValue, float64(st.TotalConns()), "total")
	ch <- prometheus.MustNewConstMetric(c.poolConns, prometheus.GaugeValue, float64(st.MaxConns()), "max")
	ch <- prometheus.MustNewConstMetric(c.poolAcquires, prometheus.CounterValue, float64(st.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.poolWait, prometheus.CounterValue, st.AcquireDuration().Seconds())
}
