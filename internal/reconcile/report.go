package reconcile

import (
	"encoding/json"
	"fmt"
	"time"

	"mailsync/internal/db/gen"
)

// Trigger says what started a run (reconciliation_reports.trigger).
type Trigger string

// The triggers.
const (
	TriggerScheduled Trigger = "scheduled"
	TriggerManual    Trigger = "manual"
)

// The statuses of a report (reconciliation_reports.status).
const (
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Report is one run's reconciliation_reports row. Its JSON form is the
// API's Reconciliation schema, which `server reconcile` prints.
//
// RecordsChecked counts the PostgreSQL emails plus the MongoDB documents the
// run looked at (every email and every document, whether its range agreed
// or was compared record by record), so two agreeing stores of n emails
// report 2n. MismatchesFound is the sum of Details.Counts. AutoRepaired
// counts the mismatches repaired: a re-sync enqueued, a status corrected, or
// (only with RemoveOrphans) an orphan's removal enqueued. FailedRepairs
// counts the repairs tried that did not apply (a query failed, or the email
// changed or vanished meanwhile).
type Report struct {
	ID              int64      `json:"id"`
	RunAt           time.Time  `json:"run_at"`
	CompletedAt     *time.Time `json:"completed_at"`
	Trigger         Trigger    `json:"trigger"`
	DryRun          bool       `json:"dry_run"`
	Status          string     `json:"status"`
	RecordsChecked  int64      `json:"records_checked"`
	MismatchesFound int64      `json:"mismatches_found"`
	AutoRepaired    int64      `json:"auto_repaired"`
	FailedRepairs   int64      `json:"failed_repairs"`
	Details         Details    `json:"details"`
	ErrorMessage    *string    `json:"error_message"`
}

// DriftRemains reports whether the run leaves the stores disagreeing as far
// as it knows: it failed, or found mismatches it did not repair (a dry run,
// orphans kept) or whose repair failed. Enqueued repairs count as repaired;
// the relay carries them out.
func (r Report) DriftRemains() bool {
	return r.Status != StatusCompleted || r.FailedRepairs > 0 || r.MismatchesFound > r.AutoRepaired
}

// Details is the report's details column: per-kind counts and a capped
// sample of ids per kind. The four kinds are always present and the sample
// lists are never null.
type Details struct {
	Counts  Counts  `json:"counts"`
	Samples Samples `json:"samples"`
}

// Counts holds the mismatches found per kind; the kinds do not overlap.
type Counts struct {
	MissingInMongo  int64 `json:"missing_in_mongo"`
	ContentMismatch int64 `json:"content_mismatch"`
	OrphanInMongo   int64 `json:"orphan_in_mongo"`
	StatusDrift     int64 `json:"status_drift"`
	// ErasedButPresent counts erased emails whose document still exists.
	ErasedButPresent int64 `json:"erased_but_present"`
}

// Samples holds up to Config.SampleCap ids per kind, in ascending order
// (MongoDB _id for orphans).
type Samples struct {
	MissingInMongo   []int64 `json:"missing_in_mongo"`
	ContentMismatch  []int64 `json:"content_mismatch"`
	OrphanInMongo    []int64 `json:"orphan_in_mongo"`
	StatusDrift      []int64 `json:"status_drift"`
	ErasedButPresent []int64 `json:"erased_but_present"`
}

// Total is the sum of the counts: the report's mismatches_found.
func (c Counts) Total() int64 {
	return c.MissingInMongo + c.ContentMismatch + c.OrphanInMongo + c.StatusDrift + c.ErasedButPresent
}

func (s *Samples) normalize() {
	for _, p := range []*[]int64{&s.MissingInMongo, &s.ContentMismatch, &s.OrphanInMongo, &s.StatusDrift, &s.ErasedButPresent} {
		if *p == nil {
			*p = []int64{}
		}
	}
}

// kind indexes the four mismatch kinds inside a run.
type kind int

const (
	missingInMongo kind = iota
	contentMismatch
	orphanInMongo
	statusDrift
	erasedButPresent
	numKinds
)

// tally accumulates a run's findings and repairs.
type tally struct {
	sampleCap int
	checked   int64
	counts    [numKinds]int64
	samples   [numKinds][]int64
	repaired  int64
	failed    int64
}

func (t *tally) add(k kind, ids []int64) {
	t.counts[k] += int64(len(ids))
	room := t.sampleCap - len(t.samples[k])
	if room > 0 {
		t.samples[k] = append(t.samples[k], ids[:min(room, len(ids))]...)
	}
}

func (t *tally) details() Details {
	d := Details{
		Counts: Counts{MissingInMongo: t.counts[missingInMongo], ContentMismatch: t.counts[contentMismatch],
			OrphanInMongo: t.counts[orphanInMongo], StatusDrift: t.counts[statusDrift],
			ErasedButPresent: t.counts[erasedButPresent]},
		Samples: Samples{MissingInMongo: t.samples[missingInMongo], ContentMismatch: t.samples[contentMismatch],
			OrphanInMongo: t.samples[orphanInMongo], StatusDrift: t.samples[statusDrift],
			ErasedButPresent: t.samples[erasedButPresent]},
	}
	d.Samples.normalize()
	return d
}

func encodeDetails(d Details) []byte {
	d.Samples.normalize()
	b, err := json.Marshal(d)
	if err != nil { // only integers and slices of them
		panic("reconcile: marshal details: " + err.Error())
	}
	return b
}

// reportFromRow turns a generated row into a Report. It fails only when the
// details column holds JSON the reconciler never wrote.
func reportFromRow(r gen.ReconciliationReport) (Report, error) {
	rep := Report{
		ID: r.ID, RunAt: r.RunAt, CompletedAt: r.CompletedAt, Trigger: Trigger(r.Trigger), DryRun: r.DryRun,
		Status: r.Status, RecordsChecked: r.RecordsChecked, MismatchesFound: r.MismatchesFound,
		AutoRepaired: r.AutoRepaired, FailedRepairs: r.FailedRepairs, ErrorMessage: r.ErrorMessage,
	}
	if len(r.Details) > 0 {
		if err := json.Unmarshal(r.Details, &rep.Details); err != nil {
			return rep, fmt.Errorf("reconciliation report %d: details: %w", r.ID, err)
		}
	}
	rep.Details.Samples.normalize()
	return rep, nil
}
