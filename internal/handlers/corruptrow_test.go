package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCorruptStoredRowIsInternalError: a row that cannot be decoded is the
// server's problem, not the client's: GET answers 500 "internal error", not
// 400 "field has the wrong JSON type" (which blamed the request).
func TestCorruptStoredRowIsInternalError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	r := e.postEmail("corrupt-1", sampleEmail(1))
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	id := int64(r.json(t)["id"].(float64))
	_, err := e.pool.Exec(context.Background(), `UPDATE incoming_emails SET headers = '42' WHERE id = $1`, id)
	require.NoError(t, err)
	got := e.do(http.MethodGet, fmt.Sprintf("/v1/emails/%d", id), "", nil)
	require.Equal(t, http.StatusInternalServerError, got.status, string(got.body))
	require.Equal(t, "application/problem+json", got.header.Get("Content-Type"))
	require.Contains(t, got.json(t)["detail"], "internal error")
}
