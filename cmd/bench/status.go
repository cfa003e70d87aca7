package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/client"
	"mailsync/internal/db"
	"mailsync/internal/relay"
)

// benchStatus builds a database of o.statusEmails emails and as many outbox
// rows (processed, but for a small backlog and some dead letters) with
// generate_series, then measures what dashboards poll: GET /v1/sync/status,
// GET /v1/sync/failures and a /metrics scrape, against a whole-table count.
func benchStatus(ctx context.Context, o benchOptions, d *database, w *cpuWatch) ([]row, error) {
	pool, err := db.Open(ctx, d.url, 4)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if err := reset(ctx, pool); err != nil {
		return nil, err
	}
	t := time.Now()
	if err := buildStatusData(ctx, pool, o.statusEmails); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	fmt.Printf("built %d emails and %d outbox rows (1 in 1,000 failed, the newest 1,000 pending, the rest synced and processed) with generate_series, VACUUM ANALYZE and CHECKPOINT in %s\n",
		o.statusEmails, o.statusEmails, time.Since(t).Round(time.Second))
	t = time.Now()
	var n int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM (SELECT sync_status, count(*) FROM incoming_emails GROUP BY 1) s").Scan(&n); err != nil {
		return nil, err
	}
	wholeCount := msOf(time.Since(t))
	fmt.Printf("baseline: counting incoming_emails by sync_status over the whole table took %s\n", ms(wholeCount))

	st, err := startStack(ctx, d.url, nil, relay.Config{Workers: 0})
	if err != nil {
		return nil, err
	}
	defer st.close()
	hc := newClient(1)
	api, err := client.New(&client.Config{BaseURL: st.base, Token: benchToken, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, ep := range []struct {
		name string
		get  func(context.Context) error
	}{
		{"GET /v1/sync/status", func(ctx context.Context) error { _, err := api.SyncStatus(ctx); return err }},
		{"GET /v1/sync/failures", func(ctx context.Context) error { _, err := api.Failures(ctx, nil); return err }},
		{"GET /metrics (a scrape)", func(ctx context.Context) error { return scrape(ctx, hc, st.base+"/metrics") }},
	} {
		stop := w.start(ctx)
		lat, err := timeGets(ctx, ep.get, o.statusRequests)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ep.name, err)
		}
		use := stop()
		p50, p99 := msOf(percentile(lat, 50)), msOf(percentile(lat, 99))
		cpu := perOpMs(use.service(false), float64(len(lat)+5))
		fmt.Printf("  %-24s %d requests one at a time: p50 %s, p99 %s, max %s; CPU per request %s (Go and PostgreSQL; no wait for a CPU)\n",
			ep.name, len(lat), ms(p50), ms(p99), ms(msOf(percentile(lat, 100))), ms(cpu))
		rows = append(rows, row{fmt.Sprintf("%s p99, %s emails", ep.name, short(o.statusEmails)), ms(p99),
			"whole-table count " + ms(wholeCount), "", "≤ 50 ms", verdict(p99, 50, true)},
			row{"  its p50 / CPU per request", ms(p50) + " / " + ms(cpu), "", "", "", ""})
	}
	return rows, nil
}

// buildStatusData inserts n emails and their outbox rows in chunks.
func buildStatusData(ctx context.Context, pool *pgxpool.Pool, n int) error {
	const chunk = 500_000
	for lo := 1; lo <= n; lo += chunk {
		hi := min(lo+chunk-1, n)
		if _, err := pool.Exec(ctx, `
			INSERT INTO incoming_emails (client_id, message_id, mailbox, from_address, to_addresses, subject, text_body,
				received_at, content_hash, idempotency_key, sync_status, synced_at, sync_error)
			SELECT 'bench', '<' || g || '@status.bench>', 'support', 'Alice <alice@example.com>', '{support@example.org}',
				'Order ' || g, repeat('Hello, my order has not arrived yet. ', 5), now() - interval '1 day', md5(g::text), 's-' || g,
				CASE WHEN g % 1000 = 0 THEN 'failed' WHEN g > $3::int - 1000 THEN 'pending' ELSE 'synced' END,
				CASE WHEN g % 1000 <> 0 AND g <= $3::int - 1000 THEN now() - interval '1 hour' END,
				CASE WHEN g % 1000 = 0 THEN 'document refused' END
			FROM generate_series($1::int, $2::int) g`, lo, hi, n); err != nil {
			return err
		}
		if _, err := pool.Exec(ctx, `
			INSERT INTO outbox_messages (aggregate_type, aggregate_id, operation, payload, idempotency_key, created_at,
				processed_at, failed_at, retry_count, error_message)
			SELECT 'email', g, 'upsert', '{"version": 1, "reason": "ingest"}', 's-' || g, now() - interval '1 day',
				CASE WHEN g % 1000 <> 0 AND g <= $3::int - 1000 THEN now() - interval '1 hour' END,
				CASE WHEN g % 1000 = 0 THEN now() - interval '1 hour' END,
				CASE WHEN g % 1000 = 0 THEN 10 ELSE 0 END,
				CASE WHEN g % 1000 = 0 THEN 'document refused' END
			FROM generate_series($1::int, $2::int) g`, lo, hi, n); err != nil {
			return err
		}
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE incoming_emails, outbox_messages, email_status_counts"); err != nil {
		return err
	}
	// The build dirtied about a gigabyte of pages: write them now, or the
	// checkpoint that follows competes with the requests being timed.
	_, err := pool.Exec(ctx, "CHECKPOINT")
	return err
}

// timeGets makes n calls of get one at a time (after a few to warm up)
// and returns their sorted latencies; any error fails it.
func timeGets(ctx context.Context, get func(context.Context) error, n int) ([]time.Duration, error) {
	for range 5 {
		if err := get(ctx); err != nil {
			return nil, err
		}
	}
	r := runLoad(ctx, 1, time.Hour, n, func(int, int) error { return get(ctx) })
	if r.errors > 0 {
		return nil, r.firstErr
	}
	return r.latencies, nil
}

// scrape reads /metrics as Prometheus does (no token; not an API call, so
// not the client's), failing unless the status is 200.
func scrape(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.300s", resp.StatusCode, b)
	}
	return nil
}

// short renders a count as 1M, 250k or 900.
func short(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
