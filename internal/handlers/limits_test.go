package handlers_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/testwait"
)

// TestLimitsAreCountedTheSameEverywhere is finding 8: a mailbox of 200 "é"
// (400 bytes) was accepted by ingest and PATCH but refused by POST
// /v1/erasures, which counted bytes, so such mail could never be erased by
// criteria. Every operation counts characters now; one character more than
// the limit is refused by all of them. (Failed before: the erasure was a
// 422.)
func TestLimitsAreCountedTheSameEverywhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	mailbox := strings.Repeat("é", 200)
	in := sampleEmail(1)
	in["mailbox"] = mailbox
	stored := e.create("wide-1", in)
	patched := e.create("wide-2", sampleEmail(2))
	body, err := json.Marshal(map[string]any{"mailbox": mailbox})
	require.NoError(t, err)
	r := e.patch(patched, `"1"`, string(body))
	require.Equal(t, http.StatusOK, r.status, string(r.body))

	r = e.do(http.MethodPost, "/v1/erasures", "application/json", body, "Idempotency-Key", "wide-erasure")
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	testwait.Until(t, time.Minute, "the erasure job to complete", func() bool {
		return e.count(`SELECT count(*) FROM erasure_jobs WHERE status = 'completed'`) == 1
	})
	require.Equal(t, 2, e.count(`SELECT count(*) FROM incoming_emails WHERE erased_at IS NOT NULL AND id IN ($1, $2)`, stored, patched))

	tooLong := strings.Repeat("é", 256)
	in["mailbox"] = tooLong
	require.Equal(t, http.StatusUnprocessableEntity, e.postEmail("wide-3", in).status)
	body, err = json.Marshal(map[string]any{"mailbox": tooLong})
	require.NoError(t, err)
	fresh := e.create("wide-4", sampleEmail(4))
	require.Equal(t, http.StatusUnprocessableEntity, e.patch(fresh, `"1"`, string(body)).status)
	require.Equal(t, http.StatusUnprocessableEntity,
		e.do(http.MethodPost, "/v1/erasures", "application/json", body, "Idempotency-Key", "wide-erasure-2").status)
}
