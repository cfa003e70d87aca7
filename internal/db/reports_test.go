package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/apperr"
	"mailsync/internal/db"
	"mailsync/internal/db/dbtest"
)

// A report goes in running, comes out finished with its details intact, and
// the reads that may find nothing say so with nil or an apperr NotFound.
func TestReportLifecycle(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	q := db.New(pool)

	latest, err := q.LatestReport(ctx)
	require.NoError(t, err)
	require.Nil(t, latest, "no report before the first run")
	running, err := q.RunningReport(ctx)
	require.NoError(t, err)
	require.Nil(t, running)
	_, err = q.GetReport(ctx, 42)
	require.Equal(t, apperr.NotFound, apperr.CodeOf(err))
	require.Contains(t, err.Error(), "reconciliation 42 not found")

	empty := db.ReportDetails{Counts: map[string]int64{"missing_in_mongo": 0}, Samples: map[string][]int64{"missing_in_mongo": {}}}
	rep, err := q.InsertReport(ctx, "manual", true, empty)
	require.NoError(t, err)
	require.Equal(t, "running", rep.Status)
	require.Equal(t, "manual", rep.Trigger)
	require.True(t, rep.DryRun)
	require.Nil(t, rep.CompletedAt)
	require.Equal(t, empty, rep.Details)
	running, err = q.RunningReport(ctx)
	require.NoError(t, err)
	require.NotNil(t, running)
	require.Equal(t, rep.ID, running.ID)

	msg := "boom"
	d := db.ReportDetails{Counts: map[string]int64{"missing_in_mongo": 3, "orphan_in_mongo": 1},
		Samples: map[string][]int64{"missing_in_mongo": {1, 2, 3}, "orphan_in_mongo": {9}}}
	done, err := q.FinishReport(ctx, db.ReportOutcome{ID: rep.ID, Status: "failed", RecordsChecked: 10,
		MismatchesFound: 4, AutoRepaired: 2, FailedRepairs: 1, Details: d, ErrorMessage: &msg})
	require.NoError(t, err)
	require.Equal(t, "failed", done.Status)
	require.NotNil(t, done.CompletedAt)
	require.Equal(t, d, done.Details)
	require.Equal(t, []int64{10, 4, 2, 1}, []int64{done.RecordsChecked, done.MismatchesFound, done.AutoRepaired, done.FailedRepairs})
	require.Equal(t, &msg, done.ErrorMessage)

	got, err := q.GetReport(ctx, rep.ID)
	require.NoError(t, err)
	require.Equal(t, done, got)
	latest, err = q.LatestReport(ctx)
	require.NoError(t, err)
	require.Equal(t, &done, latest)
	running, err = q.RunningReport(ctx)
	require.NoError(t, err)
	require.Nil(t, running, "a finished report is not running")

	_, err = q.FinishReport(ctx, db.ReportOutcome{ID: rep.ID + 1000, Status: "completed"})
	require.Equal(t, apperr.NotFound, apperr.CodeOf(err))
}

// Reports list newest first in pages; stale ones are failed and old
// finished ones deleted.
func TestReportsListFailAndDelete(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	q := db.New(pool)

	var ids []int64
	for i := 0; i < 5; i++ {
		rep, err := q.InsertReport(ctx, "scheduled", false, db.ReportDetails{})
		require.NoError(t, err)
		ids = append(ids, rep.ID)
	}
	var seen []int64
	var cursor *int64
	for {
		page, next, err := q.ListReports(ctx, cursor, 2)
		require.NoError(t, err)
		for _, r := range page {
			seen = append(seen, r.ID)
		}
		if next == nil {
			break
		}
		cursor = next
	}
	require.Equal(t, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}, seen)

	n, err := q.FailStaleReports(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 5, n)
	failed, err := q.GetReport(ctx, ids[0])
	require.NoError(t, err)
	require.Equal(t, "failed", failed.Status)
	require.Contains(t, *failed.ErrorMessage, "interrupted")

	n, err = q.FailOrphanedReports(ctx, 1)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is running any more")

	n, err = q.DeleteOldReports(ctx, time.Now().Add(time.Hour), 3)
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	left, _, err := q.ListReports(ctx, nil, 10)
	require.NoError(t, err)
	require.Len(t, left, 2)
}
