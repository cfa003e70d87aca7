package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"mailsync/internal/testwait"
)

// TestDashboardInBrowser loads /dashboard in headless Chromium against a
// running server with data, checks that the numbers shown are the API's,
// exercises the 401 and 403 states, clicks re-drive (of the failures with
// one error) and start-reconciliation
// and checks their effect; then, with every card populated, saves a
// screenshot ($MAILSYNC_ARTIFACTS, default .run/artifacts in the repository;
// the path is printed) and keeps docs/dashboard.png true to the page
// (MAILSYNC_UPDATE_SCREENSHOT=1 rewrites it).
func TestDashboardInBrowser(t *testing.T) {
	if os.Getenv("MAILSYNC_SKIP_BROWSER") == "1" {
		t.Skip("MAILSYNC_SKIP_BROWSER=1: browser test skipped on request")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("headless Chromium is required for the dashboard test but %s is missing: run scripts/install-deb.sh chromium chromium "+
			"(make test does), or set MAILSYNC_SKIP_BROWSER=1 to skip this test explicitly", chromiumPath)
	}
	t.Parallel()
	e := newDashboardEnv(t)
	ctx := context.Background()

	// Data: five synced emails; one then fails for good (a corrupt row is
	// refused at once), and one loses its MongoDB document (drift).
	var ids []string
	for i := range 5 {
		r := e.postEmail("dash-"+itoa(i), sampleEmail(i))
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
		ids = append(ids, strconv.Itoa(int(r.json(t)["id"].(float64))))
	}
	for _, id := range ids {
		e.waitStatus(id, "synced")
	}
	_, err := e.pool.Exec(ctx, `UPDATE incoming_emails SET headers = '42' WHERE id = $1::bigint`, ids[0])
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, e.do(http.MethodPost, "/v1/emails/"+ids[0]+"/sync/retry", "", nil).status)
	e.waitStatus(ids[0], "failed")
	lost, _ := strconv.ParseInt(ids[4], 10, 64)
	n, err := e.mongo.Delete(ctx, []int64{lost})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)

	b := newBrowser(t)
	b.do(chromedp.Navigate(e.url + "/dashboard?refresh=1"))

	// The key prompt says where a newcomer's key comes from.
	b.waitText("#dev-key-hint", "make run")

	// A wrong key is refused plainly.
	b.connect("wrong-token-000000000000")
	b.waitText("#connect-error", "did not accept this key (401 Unauthorized)")

	// A read key sees the numbers the API reports...
	b.connect(tokenRead)
	b.connected(tokenRead)
	b.waitField("emails.failed", "1")
	b.requireStatusMatches(e)
	failures := e.do(http.MethodGet, "/v1/sync/failures", "", nil).json(t)["items"].([]any)
	require.Len(t, failures, 1)
	f := failures[0].(map[string]any)
	require.Equal(t, f["sync_error"], b.text(fmt.Sprintf(`tr[data-email-id="%s"] td.err`, ids[0])))
	// The failures grouped by error: the one group, as the API has it.
	const group = `#failure-groups-table tbody tr:first-child`
	b.waitText(group+" td.num", "1")
	groups := e.do(http.MethodGet, "/v1/sync/failures/errors", "", nil).json(t)["items"].([]any)
	require.Len(t, groups, 1)
	require.Equal(t, groups[0].(map[string]any)["error"], b.text(group+" td.err"))
	require.Contains(t, b.text(group+" td.err"), "email #: headers:", "the email's id is not part of the group")

	b.waitText("#erasure-body", "Erasure jobs are shown to keys with the admin scope.")

	// ...but may not re-drive.
	b.click("#redrive")
	b.waitText("#redrive-msg", "This key lacks the admin scope (403 Forbidden)")
	e.waitStatus(ids[0], "failed")

	// An admin key re-drives, once the operator fixed the data.
	b.click("#forget-key")
	b.connect(tokenAll)
	b.connected(tokenAll)
	b.waitField("emails.failed", "1")
	_, err = e.pool.Exec(ctx, `UPDATE incoming_emails SET headers = '{}' WHERE id = $1::bigint`, ids[0])
	require.NoError(t, err)
	b.click(group + " button")
	b.waitText("#redrive-msg", "Re-enqueued 1 failed email with this error;")
	e.waitStatus(ids[0], "synced")
	b.waitField("emails.failed", "0")
	b.waitText("#failures-body", "No failed emails.")
	b.waitText("#failure-groups", "No failed emails.")
	b.requireStatusMatches(e)

	// Start a reconciliation: it finds the lost document and repairs it.
	b.click("#start-recon")
	b.waitText("#recon-msg", "Reconciliation #")
	msg := b.text("#recon-msg")
	id := strings.TrimSuffix(strings.Fields(msg)[1], ".")[1:]
	row := fmt.Sprintf(`tr[data-recon-id="%s"]`, id)
	b.poll(fmt.Sprintf(`document.querySelector('%s')?.dataset.status === 'completed'`, row))
	rep := e.do(http.MethodGet, "/v1/reconciliations/"+id, "", nil).json(t)
	require.Equal(t, "completed", rep["status"])
	require.EqualValues(t, 1, rep["mismatches_found"])
	require.Equal(t, strconv.Itoa(int(rep["mismatches_found"].(float64))), b.text(row+" [data-mismatches]"))
	require.Contains(t, b.text(row), "1 missing")
	b.waitField("last_reconciliation.mismatches_found", "1")
	e.waitDocument(lost)

	// Erasure jobs and their progress.
	er := e.do(http.MethodPost, "/v1/erasures", "application/json", []byte(`{"address": "nobody@example.com"}`), "Idempotency-Key", "dash-erasure")
	require.Equal(t, http.StatusAccepted, er.status, string(er.body))
	b.waitText(fmt.Sprintf(`tr[data-erasure-id="%d"]`, int(er.json(t)["id"].(float64))), "completed")
	require.Contains(t, b.text(fmt.Sprintf(`tr[data-erasure-id="%d"]`, int(er.json(t)["id"].(float64)))), "0 / 0",
		"erased / matched (the address is cleared from a finished job)")

	// The chart has samples and says what it plots.
	b.poll(`Number(document.getElementById('chart').dataset.samples) >= 3 && document.querySelector('#chart .thr-line').getAttribute('d').length > 0`)
	note := b.text(".chart-card .note")
	require.Contains(t, note, "synced_last_minute")
	require.Contains(t, note, "oldest_pending_age_seconds")

	// Every card populated, as docs/dashboard.png shows the page: reloaded
	// at the default refresh (the key stays in the tab), with chart samples.
	e.seedEveryCard(b, ids)
	b.do(chromedp.Navigate(e.url + "/dashboard"))
	b.connected(tokenAll)
	b.waitField("last_reconciliation.mismatches_found", "4")
	b.waitField("emails.failed", "1")
	b.poll(`Number(document.getElementById('chart').dataset.samples) >= 2`)
	require.Contains(t, b.text(".chart-card .note"), "every 5 s")
	b.requireReconRowsAddUp()
	b.requireStatusMatches(e)
	b.requireScreenshotCurrent(b.screenshot("dashboard.png"))
	b.requireNoPageErrors()
}

// newDashboardEnv is newEnv with the relay running and a reconciler wired in.
func newDashboardEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, envOpts{relay: true})
}

// waitDocument waits until the MongoDB document of email id exists again.
func (e *env) waitDocument(id int64) {
	e.t.Helper()
	testwait.Until(e.t, 20*time.Second, fmt.Sprintf("document %d to be restored", id), func() bool {
		n, err := e.mongo.Coll().CountDocuments(context.Background(), map[string]any{"_id": id})
		return err == nil && n == 1
	})
}
