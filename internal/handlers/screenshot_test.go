package handlers_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"mailsync/internal/reconcile"
	"mailsync/internal/testwait"
)

// seedEveryCard gives every card of the dashboard something to show, as
// docs/dashboard.png shows it: a failure that stays failed, an erasure job
// that erased an email, and a dry reconciliation that found drift of four
// kinds (an email without its document, a document without its email, an
// erased email whose document is back, the failed email whose document
// matches it). ids are synced emails; it breaks
// ids[1] and removes the document of ids[3].
func (e *env) seedEveryCard(b *browser, ids []string) {
	e.t.Helper()
	t, ctx := e.t, context.Background()

	// A row the relay cannot turn into a document fails for good.
	_, err := e.pool.Exec(ctx, `UPDATE incoming_emails SET headers = '42' WHERE id = $1::bigint`, ids[1])
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, e.do(http.MethodPost, "/v1/emails/"+ids[1]+"/sync/retry", "", nil).status)
	e.waitStatus(ids[1], "failed")

	// An erasure job that erases Carol's email.
	carol := sampleEmail(10)
	carol["from"] = "Carol <carol@example.com>"
	r := e.postEmail("dash-carol", carol)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	carolID := int64(r.json(t)["id"].(float64))
	e.waitStatus(strconv.FormatInt(carolID, 10), "synced")
	job := e.do(http.MethodPost, "/v1/erasures", "application/json",
		[]byte(`{"address": "carol@example.com", "reason": "privacy request 2026-118"}`), "Idempotency-Key", "dash-erase-carol")
	require.Equal(t, http.StatusAccepted, job.status, string(job.body))
	jobPath := fmt.Sprintf("/v1/erasures/%d", int(job.json(t)["id"].(float64)))
	testwait.Until(t, 30*time.Second, "Carol's erasure job to complete", func() bool {
		return e.do(http.MethodGet, jobPath, "", nil).json(t)["status"] == "completed"
	})
	e.waitStatus(strconv.FormatInt(carolID, 10), "synced") // the relay erased her document

	// Drift: her document back, a document of no email, a document gone.
	var doc bson.M
	require.NoError(t, e.mongo.Coll().FindOne(ctx, bson.M{"_id": mustInt(t, ids[2])}).Decode(&doc))
	doc["_id"] = carolID // over the tombstone document the relay left
	_, err = e.mongo.Coll().ReplaceOne(ctx, bson.M{"_id": carolID}, doc, options.Replace().SetUpsert(true))
	require.NoError(t, err)
	doc["_id"] = int64(1) << 40
	_, err = e.mongo.Coll().InsertOne(ctx, doc)
	require.NoError(t, err)
	n, err := e.mongo.Delete(ctx, []int64{mustInt(t, ids[3])})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)

	run := e.do(http.MethodPost, "/v1/reconciliations", "application/json", []byte(`{"dry_run": true}`))
	require.Equal(t, http.StatusAccepted, run.status, string(run.body))
	runID := strconv.Itoa(int(run.json(t)["id"].(float64)))
	testwait.Until(t, 30*time.Second, "the dry reconciliation to complete", func() bool {
		return e.do(http.MethodGet, "/v1/reconciliations/"+runID, "", nil).json(t)["status"] == "completed"
	})
	b.waitText("#card-recon", "#"+runID+" completed")
	// Four kinds: the failed email's document still matches it (status drift).
	b.waitField("last_reconciliation.mismatches_found", "4")
	for _, kind := range []string{"missing_in_mongo", "orphan_in_mongo", "erased_but_present", "status_drift"} {
		b.waitField("last_reconciliation."+kind, "1")
	}
	b.waitField("emails.failed", "1")
	b.waitField("emails.erased", "1")
	b.waitText(`tr[data-email-id="`+ids[1]+`"] td.err`, "headers")
}

// requireReconRowsAddUp checks that the "Last reconciliation" card has a
// row for every kind of mismatch and that its rows add up to its total.
func (b *browser) requireReconRowsAddUp() {
	b.t.Helper()
	sum := 0
	for _, kind := range reconcile.KindNames() {
		v := strings.ReplaceAll(b.text(`[data-field="last_reconciliation.`+kind+`"]`), ",", "")
		n, err := strconv.Atoi(v)
		require.NoError(b.t, err, "the Last reconciliation card shows kind %s (it shows %q)", kind, v)
		sum += n
	}
	total := strings.ReplaceAll(b.text(`[data-field="last_reconciliation.mismatches_found"]`), ",", "")
	require.Equal(b.t, total, strconv.Itoa(sum), "the Last reconciliation card's rows add up to its total")
}

func mustInt(t require.TestingT, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	return n
}

// layoutKey is the PNG text keyword under which docs/dashboard.png records
// the page's layout: its visible headings, labels and buttons.
const layoutKey = "mailsync-dashboard-layout"

// layout is what the page shows that does not move with the clock: the
// text of its visible headings, row labels, table headers and buttons.
func (b *browser) layout() string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll('h1, h2, h3, dt, th, button'))
		.filter((e) => e.checkVisibility()).map((e) => e.textContent.trim().replace(/\s+/g, ' ')).join('\n')`))
	require.NoError(b.t, err)
	return s
}

// requireScreenshotCurrent keeps docs/dashboard.png true to the page. With
// MAILSYNC_UPDATE_SCREENSHOT=1 it writes png there, the page's layout
// recorded in a text chunk; otherwise it fails when the layout recorded in
// docs/dashboard.png is not the page's (numbers, times and the chart move
// from run to run, so they are not compared).
func (b *browser) requireScreenshotCurrent(png []byte) {
	b.t.Helper()
	path := filepath.Join(repoRoot(b.t), "docs", "dashboard.png")
	layout := b.layout()
	if os.Getenv("MAILSYNC_UPDATE_SCREENSHOT") == "1" {
		require.NoError(b.t, os.WriteFile(path, withPNGText(b.t, png, layoutKey, layout), 0o644))
		fmt.Fprintln(os.Stderr, "dashboard screenshot written to", path)
		return
	}
	old, err := os.ReadFile(path)
	require.NoError(b.t, err)
	require.Equal(b.t, pngText(old, layoutKey), layout,
		"the dashboard no longer looks like docs/dashboard.png: refresh it with "+
			"MAILSYNC_UPDATE_SCREENSHOT=1 go test -run TestDashboardInBrowser ./internal/handlers/")
}

// withPNGText returns png with a tEXt chunk keyword=text after its header.
func withPNGText(t require.TestingT, png []byte, keyword, text string) []byte {
	const headerEnd = 8 + 4 + 4 + 13 + 4 // signature, IHDR length, type, data, CRC
	require.True(t, len(png) > headerEnd && string(png[12:16]) == "IHDR", "a PNG starts with its IHDR chunk")
	data := append([]byte(keyword+"\x00"), text...)
	var chunk bytes.Buffer
	_ = binary.Write(&chunk, binary.BigEndian, uint32(len(data)))
	chunk.WriteString("tEXt")
	chunk.Write(data)
	_ = binary.Write(&chunk, binary.BigEndian, crc32.ChecksumIEEE(append([]byte("tEXt"), data...)))
	return append(append(append([]byte{}, png[:headerEnd]...), chunk.Bytes()...), png[headerEnd:]...)
}

// pngText returns the text of png's tEXt chunk keyword, or "".
func pngText(png []byte, keyword string) string {
	for i := 8; i+8 <= len(png); {
		n := int(binary.BigEndian.Uint32(png[i:]))
		if i+12+n > len(png) {
			break
		}
		if string(png[i+4:i+8]) == "tEXt" {
			if k, v, ok := strings.Cut(string(png[i+8:i+8+n]), "\x00"); ok && k == keyword {
				return v
			}
		}
		i += 12 + n
	}
	return ""
}
