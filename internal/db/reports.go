package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"mailsync/internal/db/gen"
)

// Report is one reconciliation run: a reconciliation_reports row.
// Package reconcile gives it its meaning (its triggers, statuses and
// mismatch kinds); here it is what is stored.
type Report struct {
	ID          int64
	RunAt       time.Time  // when the run started (PostgreSQL's clock)
	CompletedAt *time.Time // nil while the run is running
	Trigger     string     // "scheduled" or "manual"
	DryRun      bool
	Status      string // "running", "completed" or "failed"
	// RecordsChecked, MismatchesFound, AutoRepaired and FailedRepairs are
	// the run's totals; zero while it runs.
	RecordsChecked  int64
	MismatchesFound int64
	AutoRepaired    int64
	FailedRepairs   int64
	Details         ReportDetails
	ErrorMessage    *string // why a failed run failed; nil otherwise
}

// ReportDetails is a report's details column: per mismatch kind, keyed by
// the kind's name, how many mismatches were found and a sample of their
// ids. A kind the run did not record is absent.
type ReportDetails struct {
	Counts  map[string]int64   `json:"counts"`
	Samples map[string][]int64 `json:"samples"`
	// BlobSamples names sample blobs (SHA-256) per blob kind.
	BlobSamples map[string][]string `json:"blob_samples,omitempty"`
}

// ReportOutcome is how a run ended: what FinishReport stores on report ID.
type ReportOutcome struct {
	ID              int64
	Status          string // "completed" or "failed"
	RecordsChecked  int64
	MismatchesFound int64
	AutoRepaired    int64
	FailedRepairs   int64
	Details         ReportDetails
	ErrorMessage    *string // nil for a completed run
}

// reportFromRow turns a generated row into a Report. It fails only when the
// details column holds JSON the reconciler never wrote.
func reportFromRow(r gen.ReconciliationReport) (Report, error) {
	rep := Report{
		ID: r.ID, RunAt: r.RunAt, CompletedAt: r.CompletedAt, Trigger: r.Trigger, DryRun: r.DryRun,
		Status: r.Status, RecordsChecked: r.RecordsChecked, MismatchesFound: r.MismatchesFound,
		AutoRepaired: r.AutoRepaired, FailedRepairs: r.FailedRepairs, ErrorMessage: r.ErrorMessage,
	}
	if len(r.Details) > 0 {
		if err := json.Unmarshal(r.Details, &rep.Details); err != nil {
			return rep, fmt.Errorf("reconciliation report %d: details: %w", r.ID, err)
		}
	}
	return rep, nil
}

// encodeDetails is the details column of d; nil maps are stored empty.
func encodeDetails(d ReportDetails) []byte {
	if d.Counts == nil {
		d.Counts = map[string]int64{}
	}
	if d.Samples == nil {
		d.Samples = map[string][]int64{}
	}
	b, err := json.Marshal(d)
	if err != nil { // maps of integers and integer slices
		panic("db: marshal report details: " + err.Error())
	}
	return b
}

// InsertReport stores the report of a run starting now, status running,
// with details d, and returns it. Its errors are database errors.
func (q *Queries) InsertReport(ctx context.Context, trigger string, dryRun bool, d ReportDetails) (Report, error) {
	row, err := q.g.InsertReport(ctx, gen.InsertReportParams{Trigger: trigger, DryRun: dryRun, Details: encodeDetails(d)})
	if err != nil {
		return Report{}, wrap("insert reconciliation report", err)
	}
	return reportFromRow(row)
}

// FinishReport stores o on its report, completed now, and returns the
// report. It returns an apperr NotFound when the report does not exist.
func (q *Queries) FinishReport(ctx context.Context, o ReportOutcome) (Report, error) {
	row, err := q.g.FinishReport(ctx, gen.FinishReportParams{
		ID: o.ID, Status: o.Status, RecordsChecked: o.RecordsChecked, MismatchesFound: o.MismatchesFound,
		AutoRepaired: o.AutoRepaired, FailedRepairs: o.FailedRepairs, Details: encodeDetails(o.Details),
		ErrorMessage: o.ErrorMessage,
	})
	if err != nil {
		return Report{}, found("finish reconciliation report", err, "reconciliation", o.ID)
	}
	return reportFromRow(row)
}

// GetReport returns report id, or an apperr NotFound
// ("reconciliation <id> not found").
func (q *Queries) GetReport(ctx context.Context, id int64) (Report, error) {
	row, err := q.g.GetReport(ctx, id)
	if err != nil {
		return Report{}, found("get reconciliation report", err, "reconciliation", id)
	}
	return reportFromRow(row)
}

// ListReports returns up to limit reports newest first, starting after the
// report beforeID (nil: the newest), and the cursor of the next page (nil on
// the last page). Its errors are database errors.
func (q *Queries) ListReports(ctx context.Context, beforeID *int64, limit int32) ([]Report, *int64, error) {
	rows, err := q.g.ListReports(ctx, gen.ListReportsParams{BeforeID: beforeID, RowLimit: limit + 1})
	if err != nil {
		return nil, nil, wrap("list reconciliation reports", err)
	}
	rows, next := page(rows, limit, func(r gen.ReconciliationReport) int64 { return r.ID })
	out := make([]Report, len(rows))
	for i, row := range rows {
		if out[i], err = reportFromRow(row); err != nil {
			return nil, nil, err
		}
	}
	return out, next, nil
}

// LatestReport returns the newest report, whatever its status, or nil before
// the first run. Its errors are database errors.
func (q *Queries) LatestReport(ctx context.Context) (*Report, error) {
	row, err := q.g.LatestReport(ctx)
	return optionalReport("latest reconciliation report", row, err)
}

// RunningReport returns the newest report still running, or nil when none
// is. Its errors are database errors.
func (q *Queries) RunningReport(ctx context.Context) (*Report, error) {
	row, err := q.g.RunningReport(ctx)
	return optionalReport("running reconciliation report", row, err)
}

// optionalReport converts the result of a statement whose row may be
// missing: nil without an error when it is; op names the statement in any
// other error.
func optionalReport(op string, row gen.ReconciliationReport, err error) (*Report, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	rep, err := reportFromRow(row)
	if err != nil {
		return nil, err
	}
	return &rep, nil
}

// FailStaleReports marks failed ("interrupted") every report still running,
// and returns how many it marked. Call it only while holding the
// reconciliation lock: a report running then belongs to a run that died.
func (q *Queries) FailStaleReports(ctx context.Context) (int64, error) {
	n, err := q.g.FailStaleReports(ctx)
	return n, wrap("fail stale reconciliation reports", err)
}

// FailOrphanedReports marks failed ("interrupted") every report still
// running while no session holds the advisory lock lockKey (the run that
// inserted it ended without finishing it), and returns how many it marked.
// It is safe without the lock.
func (q *Queries) FailOrphanedReports(ctx context.Context, lockKey int64) (int64, error) {
	n, err := q.g.FailOrphanedReports(ctx, lockKey)
	return n, wrap("fail orphaned reconciliation reports", err)
}

// DeleteOldReports deletes up to limit finished reports of runs started
// before before, oldest first, and returns how many it deleted.
func (q *Queries) DeleteOldReports(ctx context.Context, before time.Time, limit int32) (int64, error) {
	n, err := q.g.DeleteOldReports(ctx, gen.DeleteOldReportsParams{Before: before, RowLimit: limit})
	return n, wrap("delete old reconciliation reports", err)
}
