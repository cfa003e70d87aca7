package reconcile

import (
	"time"

	"mailsync/internal/db"
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
// report 2n, plus the blobs of each store (PostgreSQL's blobs and MongoDB's
// GridFS files). MismatchesFound is the sum of Details.Counts. AutoRepaired
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
// as it knows: it failed, found mismatches it did not repair (a dry run,
// orphans kept, documents ahead of PostgreSQL, which no re-sync can lower)
// or whose repair failed. Enqueued repairs count as repaired; the relay
// carries them out.
func (r Report) DriftRemains() bool {
	return r.Status != StatusCompleted || r.FailedRepairs > 0 || r.MismatchesFound > r.AutoRepaired ||
		r.Details.Counts.AheadOfPostgres > 0
}

// Details is the report's details column: per-kind counts and a capped
// sample of ids per kind. Every kind is always present and the sample lists
// are never null.
type Details struct {
	Counts  Counts  `json:"counts"`
	Samples Samples `json:"samples"`
	// BlobSamples names up to Config.SampleCap blobs (SHA-256) per blob
	// kind ("blob_missing", "blob_orphan"); both keys always present.
	BlobSamples map[string][]string `json:"blob_samples"`
}

// Counts holds the mismatches found per kind; the kinds do not overlap.
type Counts struct {
	MissingInMongo  int64 `json:"missing_in_mongo"`
	ContentMismatch int64 `json:"content_mismatch"`
	OrphanInMongo   int64 `json:"orphan_in_mongo"`
	StatusDrift     int64 `json:"status_drift"`
	AheadOfPostgres int64 `json:"ahead_of_postgres"`
	// ErasedButPresent counts erased emails whose document still exists.
	ErasedButPresent int64 `json:"erased_but_present"`
	// BlobMissing counts blobs an email references, marked synced, that
	// MongoDB lacks or holds incomplete or with other bytes.
	BlobMissing int64 `json:"blob_missing"`
	// BlobOrphan counts blobs (or leftover uploads) no email references.
	BlobOrphan int64 `json:"blob_orphan"`
}

// Samples holds up to Config.SampleCap ids per kind, in ascending order
// (MongoDB _id for orphans).
type Samples struct {
	MissingInMongo   []int64 `json:"missing_in_mongo"`
	ContentMismatch  []int64 `json:"content_mismatch"`
	OrphanInMongo    []int64 `json:"orphan_in_mongo"`
	StatusDrift      []int64 `json:"status_drift"`
	AheadOfPostgres  []int64 `json:"ahead_of_postgres"`
	ErasedButPresent []int64 `json:"erased_but_present"`
	// BlobMissing holds the ids of emails re-synced to relay a missing
	// blob again; BlobOrphan is always empty (an orphan has no email).
	// The blobs' names are in Details.BlobSamples.
	BlobMissing []int64 `json:"blob_missing"`
	BlobOrphan  []int64 `json:"blob_orphan"`
}

// kind indexes the mismatch kinds inside a run. Adding a kind: a constant
// here, its name in kindNames, and a field in Counts and Samples wired in
// Counts.of and Samples.of.
type kind int

const (
	missingInMongo kind = iota
	contentMismatch
	orphanInMongo
	statusDrift
	// aheadOfPostgres: the document's version is higher than the email's. A
	// re-sync cannot fix it (the relay never lowers a version), so it is
	// reported and never counted as repaired.
	aheadOfPostgres
	// erasedButPresent: an erased email whose document still exists;
	// repaired by enqueuing its removal.
	erasedButPresent
	// blobMissing: a referenced blob marked synced that MongoDB does not
	// hold whole with the right bytes; repaired by relaying it again.
	blobMissing
	// blobOrphan: a blob no email references, in either store, or an upload
	// no blob names; removed by a repairing run.
	blobOrphan
	numKinds
)

// kindNames are the kinds' names in reports, the API and metrics labels.
var kindNames = [numKinds]string{"missing_in_mongo", "content_mismatch", "orphan_in_mongo", "status_drift", "ahead_of_postgres", "erased_but_present",
	"blob_missing", "blob_orphan"}

// KindNames lists the names of every mismatch kind, in report order.
func KindNames() []string { return kindNames[:] }

func (c *Counts) of(k kind) *int64 {
	return [numKinds]*int64{&c.MissingInMongo, &c.ContentMismatch, &c.OrphanInMongo, &c.StatusDrift, &c.AheadOfPostgres, &c.ErasedButPresent,
		&c.BlobMissing, &c.BlobOrphan}[k]
}

func (s *Samples) of(k kind) *[]int64 {
	return [numKinds]*[]int64{&s.MissingInMongo, &s.ContentMismatch, &s.OrphanInMongo, &s.StatusDrift, &s.AheadOfPostgres, &s.ErasedButPresent,
		&s.BlobMissing, &s.BlobOrphan}[k]
}

// Total is the sum of the counts: the report's mismatches_found.
func (c Counts) Total() int64 {
	var n int64
	for k := kind(0); k < numKinds; k++ {
		n += *c.of(k)
	}
	return n
}

// ByKind returns the counts keyed by kind name.
func (c Counts) ByKind() map[string]int64 {
	out := make(map[string]int64, numKinds)
	for k := kind(0); k < numKinds; k++ {
		out[kindNames[k]] = *c.of(k)
	}
	return out
}

func (s *Samples) normalize() {
	for k := kind(0); k < numKinds; k++ {
		if p := s.of(k); *p == nil {
			*p = []int64{}
		}
	}
}

// tally accumulates a run's findings and repairs.
type tally struct {
	sampleCap int
	shas      [numKinds][]string
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

// sample keeps id in kind k's sample without counting a mismatch.
func (t *tally) sample(k kind, id int64) {
	if len(t.samples[k]) < t.sampleCap {
		t.samples[k] = append(t.samples[k], id)
	}
}

// addBlob records one blob mismatch of kind k named sha.
func (t *tally) addBlob(k kind, sha string) {
	t.counts[k]++
	if len(t.shas[k]) < t.sampleCap {
		t.shas[k] = append(t.shas[k], sha)
	}
}

func (t *tally) details() Details {
	var d Details
	for k := kind(0); k < numKinds; k++ {
		*d.Counts.of(k) = t.counts[k]
		*d.Samples.of(k) = t.samples[k]
	}
	d.Samples.normalize()
	d.BlobSamples = blobSamples(t.shas[blobMissing], t.shas[blobOrphan])
	return d
}

// blobSamples is the BlobSamples map with both keys present.
func blobSamples(missing, orphan []string) map[string][]string {
	if missing == nil {
		missing = []string{}
	}
	if orphan == nil {
		orphan = []string{}
	}
	return map[string][]string{kindNames[blobMissing]: missing, kindNames[blobOrphan]: orphan}
}

// stored is d as the details column stores it: every kind present, no
// sample null.
func (d Details) stored() db.ReportDetails {
	out := db.ReportDetails{Counts: d.Counts.ByKind(), Samples: make(map[string][]int64, numKinds),
		BlobSamples: d.BlobSamples}
	for k := kind(0); k < numKinds; k++ {
		s := *d.Samples.of(k)
		if s == nil {
			s = []int64{}
		}
		out.Samples[kindNames[k]] = s
	}
	return out
}

// reportOf gives a stored report its meaning. A kind the report does not
// record counts 0 with an empty sample.
func reportOf(r db.Report) Report {
	rep := Report{
		ID: r.ID, RunAt: r.RunAt, CompletedAt: r.CompletedAt, Trigger: Trigger(r.Trigger), DryRun: r.DryRun,
		Status: r.Status, RecordsChecked: r.RecordsChecked, MismatchesFound: r.MismatchesFound,
		AutoRepaired: r.AutoRepaired, FailedRepairs: r.FailedRepairs, ErrorMessage: r.ErrorMessage,
	}
	for k := kind(0); k < numKinds; k++ {
		*rep.Details.Counts.of(k) = r.Details.Counts[kindNames[k]]
		*rep.Details.Samples.of(k) = r.Details.Samples[kindNames[k]]
	}
	rep.Details.Samples.normalize()
	rep.Details.BlobSamples = blobSamples(r.Details.BlobSamples[kindNames[blobMissing]], r.Details.BlobSamples[kindNames[blobOrphan]])
	return rep
}
