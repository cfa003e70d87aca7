// Package reconcile proves that MongoDB holds what PostgreSQL holds, and
// repairs it when it does not. A run summarises both stores per range of
// ids (count and XOR of record hashes; memory grows with the number of
// ranges, not of emails), and looks at single records only inside ranges
// whose summaries differ (the data-diff idea). It classifies missing_in_mongo, content_mismatch, orphan_in_mongo
// and status_drift, repairs through the outbox (the relay does the writes),
// and records every run as a reconciliation_reports row. One run at a time
// across all instances, by a PostgreSQL advisory lock.
package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"mailsync/internal/audit"
	"mailsync/internal/db"
	"mailsync/internal/lifecycle"
	"mailsync/internal/mongostore"
	"mailsync/internal/tracing"
)

// Config tunes a Reconciler; zero fields take the defaults of New.
type Config struct {
	// Grace is how long an outbox message may wait before its email counts
	// as drifted rather than in flight (RECONCILE_GRACE; 5m).
	Grace time.Duration
	// RemoveOrphans enqueues the removal of orphan documents; otherwise they
	// are only reported (RECONCILE_REMOVE_ORPHANS).
	RemoveOrphans bool
	// Interval is the schedule of Start; 0 means no scheduled runs
	// (RECONCILE_INTERVAL).
	Interval time.Duration
	// Timeout bounds one run (1h).
	Timeout time.Duration
	// RangeSize is how many consecutive ids one compared range spans (1000).
	RangeSize int
	// SampleCap is how many ids per kind a report keeps (100).
	SampleCap int
	// MaxRetries is given to the outbox messages a repair enqueues (10).
	MaxRetries int32
	// Wake, when set, is called after a repair enqueued outbox messages (the
	// relay's wake-up).
	Wake func()
	// ReadBudget bounds the bytes of MongoDB documents a run holds at once,
	// read and being hashed (16 MiB); a document larger than it is held
	// alone.
	ReadBudget int64

	beforeCompare func(reportID int64) // test hook: called once the report is running
}

// Reconciler runs reconciliations and reads their reports.
type Reconciler struct {
	pool  *pgxpool.Pool
	q     *db.Queries
	mongo *mongostore.Store
	cfg   Config

	// life holds the schedule's goroutines and the runs in flight on this
	// instance (Run and StartRun join it without Start).
	life *lifecycle.Group
	// readPeak is the most bytes of documents a MongoDB read held at once
	// (see budget), over every run of this reconciler.
	readPeak atomic.Int64
}

// finishTimeout bounds the report writes that must happen even when the
// run's context has ended (its insert and its final status).
const finishTimeout = 10 * time.Second

// New returns a Reconciler over pool and mongo with cfg's defaults filled in.
// It runs nothing until Start, Run or StartRun.
func New(pool *pgxpool.Pool, mongo *mongostore.Store, cfg *Config) *Reconciler {
	c := *cfg
	if c.Grace <= 0 {
		c.Grace = 5 * time.Minute
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Hour
	}
	if c.RangeSize <= 0 {
		c.RangeSize = 1000
	}
	if c.SampleCap <= 0 {
		c.SampleCap = 100
	}
	if c.MaxRetries <= 0 {
		c.MaxRetries = 10
	}
	if c.Wake == nil {
		c.Wake = func() {}
	}
	if c.ReadBudget <= 0 {
		c.ReadBudget = 16 << 20
	}
	return &Reconciler{pool: pool, q: db.New(pool), mongo: mongo, cfg: c,
		life: lifecycle.NewGroup("reconciler", "runs in flight")}
}

// Run reconciles once and returns the finished report, synchronously; its
// audit event (reconciliation.start by "scheduler" for a scheduled run,
// "cli" otherwise) commits with the report's row. A run
// that fails after it started still returns its report (status failed, with
// error_message) together with the error. When another run holds the lock,
// Run returns an apperr RunInProcess naming the running report's id.
func (r *Reconciler) Run(ctx context.Context, trigger Trigger, dryRun bool) (Report, error) {
	ctx, leave, ok := r.life.Join(ctx) // Stop waits for the run, then cuts it off
	if !ok {
		return Report{}, errStopped
	}
	defer leave()
	by := audit.Actor{ClientID: audit.CommandLineActor} // server reconcile
	if trigger == TriggerScheduled {
		by.ClientID = audit.SchedulerActor
	}
	l, rep, err := r.begin(ctx, trigger, dryRun, &by)
	if err != nil {
		return Report{}, err
	}
	return r.execute(ctx, l, rep)
}

// StartRun starts a manual run by by in the background and returns its
// report, status running, as soon as the lock is held and the row exists;
// the row and its audit event (reconciliation.start) commit together. The run
// goes on after ctx ends; Stop waits for it, then cuts it off. When another
// run holds the lock, StartRun returns an apperr RunInProcess naming the
// running report's id.
func (r *Reconciler) StartRun(ctx context.Context, dryRun bool, by audit.Actor) (Report, error) {
	run, leave, ok := r.life.Join(context.WithoutCancel(ctx)) // ends only when Stop cuts it off
	if !ok {
		return Report{}, errStopped
	}
	bctx, cancel := context.WithCancel(ctx) // ctx's deadline stays its own
	stop := context.AfterFunc(run, cancel)
	l, rep, err := r.begin(bctx, TriggerManual, dryRun, &by)
	stop()
	cancel()
	if err != nil {
		leave()
		return Report{}, err
	}
	link := tracing.LinkTo(ctx) // the run's span is linked to the request's
	go func() {
		defer leave()
		_, _ = r.execute(run, l, rep, link) // the outcome is in the report and the log
	}()
	return rep, nil
}

// errStopped is returned by runs started after Stop.
var errStopped = errors.New("reconciler stopped")

// begin takes the lock, fails the reports of crashed runs, and inserts this
// run's report, and, when by is set, the audit event of the start in the
// same transaction. Once the lock is held, the writes run under a context that
// outlives ctx (bounded by finishTimeout): a cancellation arriving while the
// insert commits must not leave a report that nobody finishes. When ctx has
// ended meanwhile, the run that follows fails at once and finishes its report.
func (r *Reconciler) begin(ctx context.Context, trigger Trigger, dryRun bool, by *audit.Actor) (*lock, Report, error) {
	l, err := r.acquire(ctx)
	if err != nil {
		return nil, Report{}, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if n, err := r.q.FailStaleReports(ctx); err != nil {
		l.release()
		return nil, Report{}, err
	} else if n > 0 {
		slog.Warn("reconciliation: marked interrupted runs failed", "reports", n)
	}
	row, err := r.insertReport(ctx, trigger, dryRun, by)
	if err != nil {
		l.release()
		return nil, Report{}, err
	}
	return l, reportOf(row), nil
}

// insertReport inserts the report of a run by by (nil: no audit event),
// and by's audit event in the same transaction.
func (r *Reconciler) insertReport(ctx context.Context, trigger Trigger, dryRun bool, by *audit.Actor) (db.Report, error) {
	if by == nil {
		return r.q.InsertReport(ctx, string(trigger), dryRun, Details{}.stored())
	}
	var row db.Report
	err := db.InTx(ctx, r.pool, func(q *db.Queries) error {
		var err error
		if row, err = q.InsertReport(ctx, string(trigger), dryRun, Details{}.stored()); err != nil {
			return err
		}
		return audit.Record(ctx, q, *by, audit.ActionReconciliationStart, "reconciliation:"+strconv.FormatInt(row.ID, 10),
			map[string]any{"dry_run": dryRun, "trigger": string(trigger)})
	})
	return row, err
}

// execute compares and repairs under l, finishes the report and releases l.
// Its span is linked to what opts give (the request that started it).
func (r *Reconciler) execute(ctx context.Context, l *lock, rep Report, opts ...trace.SpanStartOption) (_ Report, err error) {
	defer l.release()
	start := time.Now()
	ctx, span := tracing.Start(ctx, tracing.SpanReconcile, append(opts, trace.WithAttributes(
		tracing.AttrReportID.Int64(rep.ID), tracing.AttrDryRun.Bool(rep.DryRun)))...)
	defer func() { tracing.End(span, err) }()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	if r.cfg.beforeCompare != nil {
		r.cfg.beforeCompare(rep.ID)
	}
	t := &tally{sampleCap: r.cfg.SampleCap}
	w := &walk{r: r, t: t, dryRun: rep.DryRun, since: rep.RunAt}
	runErr := w.run(ctx)
	if runErr == nil {
		runErr = w.blobs(ctx)
	}

	d := t.details()
	p := db.ReportOutcome{ID: rep.ID, Status: StatusCompleted, RecordsChecked: t.checked,
		MismatchesFound: d.Counts.Total(), AutoRepaired: t.repaired, FailedRepairs: t.failed, Details: d.stored()}
	if runErr != nil {
		p.Status = StatusFailed
		msg := runErr.Error()
		if errors.Is(runErr, context.Canceled) {
			msg = "interrupted: the reconciler was stopped (" + msg + ")"
		}
		p.ErrorMessage = &msg
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer fcancel()
	row, err := r.q.FinishReport(fctx, p)
	if err != nil {
		slog.ErrorContext(ctx, "reconciliation: cannot finish report", "report", rep.ID, "err", err)
		return rep, errors.Join(runErr, err)
	}
	out := reportOf(row)
	slog.InfoContext(ctx, "reconciliation finished", "report", out.ID, "status", out.Status, "dry_run", out.DryRun,
		"records_checked", out.RecordsChecked, "mismatches_found", out.MismatchesFound,
		"auto_repaired", out.AutoRepaired, "failed_repairs", out.FailedRepairs,
		"duration", time.Since(start).Round(time.Millisecond), "err", runErr)
	return out, runErr
}

// Get returns report id, or an apperr NotFound when there is none.
func (r *Reconciler) Get(ctx context.Context, id int64) (Report, error) {
	row, err := r.q.GetReport(ctx, id)
	if err != nil {
		return Report{}, err
	}
	return reportOf(row), nil
}

// List returns up to limit reports newest first, starting after the report
// beforeID (nil: the newest), and the cursor of the next page (nil on the
// last page). Its errors are database errors.
func (r *Reconciler) List(ctx context.Context, beforeID *int64, limit int32) ([]Report, *int64, error) {
	rows, next, err := r.q.ListReports(ctx, beforeID, limit)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Report, len(rows))
	for i, row := range rows {
		out[i] = reportOf(row)
	}
	return out, next, nil
}
