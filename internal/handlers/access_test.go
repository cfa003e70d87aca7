package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"mailsync/internal/api"
)

// The kinds of key of the access matrix, in the order of its columns, and
// the token each sends ("" sends no Authorization header).
var matrixRoles = []struct{ name, token string }{
	{"no key", ""},
	{"other ingest", tokenRival},
	{"own ingest", tokenIngest},
	{"read", tokenRead},
	{"admin", tokenAdmin},
}

// matrixRow is one row of the access matrix in docs/security.md.
type matrixRow struct {
	route   string // "POST /v1/emails"
	answers []int  // one per matrixRoles
}

// readMatrix parses the access matrix table of docs/security.md, by
// operationId.
func readMatrix(t *testing.T) map[string]matrixRow {
	t.Helper()
	f, err := os.Open("../../docs/security.md")
	require.NoError(t, err)
	defer f.Close()
	rows := map[string]matrixRow{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		require.Len(t, cells, 2+len(matrixRoles), "matrix row %q", line)
		op := strings.Trim(strings.TrimSpace(cells[0]), "`")
		row := matrixRow{route: strings.Trim(strings.TrimSpace(cells[1]), "`")}
		for _, c := range cells[2:] {
			n, err := strconv.Atoi(strings.TrimSpace(c))
			require.NoError(t, err, "matrix row %q", line)
			row.answers = append(row.answers, n)
		}
		require.NotContains(t, rows, op, "operation %s has two rows", op)
		rows[op] = row
	}
	require.NoError(t, sc.Err())
	return rows
}

// matrixRequest is a valid request of one operation.
type matrixRequest struct {
	contentType string
	body        []byte
	headers     []string
}

// matrixRequests builds, per operationId, a valid request for the cell
// named cell (unique per request). email is a fresh email of the client
// "mta" (whose ingest-only key is tokenIngest) when the operation names one.
var matrixRequests = map[string]func(cell string) matrixRequest{
	"createEmail": func(cell string) matrixRequest {
		b, _ := json.Marshal(sampleEmail(len(cell)))
		return matrixRequest{"application/json", b, []string{"Idempotency-Key", "m-" + cell}}
	},
	"createEmailBatch": func(cell string) matrixRequest {
		b, _ := json.Marshal(map[string]any{"emails": []any{map[string]any{"idempotency_key": "b-" + cell, "email": sampleEmail(1)}}})
		return matrixRequest{"application/json", b, nil}
	},
	"patchEmail": func(string) matrixRequest {
		return matrixRequest{"application/json", []byte(`{"labels": ["matrix"]}`), []string{"If-Match", `"1"`}}
	},
	"eraseEmail": func(string) matrixRequest {
		return matrixRequest{"application/json", []byte(`{"reason": "matrix"}`), nil}
	},
	"retrySyncFailures":   func(string) matrixRequest { return matrixRequest{"application/json", []byte(`{}`), nil} },
	"startReconciliation": func(string) matrixRequest { return matrixRequest{"application/json", []byte(`{"dry_run": true}`), nil} },
	"startErasure": func(cell string) matrixRequest {
		return matrixRequest{"application/json", []byte(`{"mailbox": "matrix-` + cell + `"}`), []string{"Idempotency-Key", "x-" + cell}}
	},
}

// TestAccessMatrix checks the access matrix of docs/security.md in full:
// it has one row per operation of the contract (a new operation without a
// row fails here), and every operation answers every kind of key as the
// row says.
func TestAccessMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	matrix := readMatrix(t)
	swagger, err := api.GetSwagger()
	require.NoError(t, err)

	// The resources the operations that name one are asked about.
	job := e.do(http.MethodPost, "/v1/erasures", "application/json", []byte(`{"mailbox": "matrix-seed"}`), "Idempotency-Key", "seed")
	require.Equal(t, http.StatusAccepted, job.status, string(job.body))
	var report int64
	require.NoError(t, e.pool.QueryRow(context.Background(), `INSERT INTO reconciliation_reports (trigger, dry_run, status, completed_at)
		VALUES ('manual', true, 'completed', now()) RETURNING id`).Scan(&report))
	ids := map[string]string{"/v1/erasures/{id}": fmt.Sprint(job.json(t)["id"]), "/v1/reconciliations/{id}": itoa(int(report))}

	seen := map[string]bool{}
	for path, item := range swagger.Paths.Map() {
		for method, op := range item.Operations() {
			id := op.OperationID
			seen[id] = true
			row, ok := matrix[id]
			if !assert(t, ok, "operation %s (%s %s) has no row in the access matrix of docs/security.md: add one", id, method, path) {
				continue
			}
			require.Equal(t, method+" "+path, row.route, "the matrix row of %s names another route", id)
			for i, role := range matrixRoles {
				cell := fmt.Sprintf("%s-%d", id, i)
				url := path
				if strings.HasPrefix(path, "/v1/emails/{id}") {
					url = strings.Replace(path, "{id}", itoa(int(e.createRawAs(tokenIngest, "own-"+cell))), 1)
					url = strings.Replace(url, "{index}", "0", 1)
				} else if v, ok := ids[path]; ok {
					url = strings.Replace(path, "{id}", v, 1)
				}
				req := matrixRequest{}
				if build := matrixRequests[id]; build != nil {
					req = build(cell)
				}
				r := e.do(method, url, req.contentType, req.body, append(req.headers, "Authorization", bearer(role.token))...)
				assert(t, r.status == row.answers[i], "%s %s with %s: got %d, the matrix says %d: %s",
					method, url, role.name, r.status, row.answers[i], r.body)
			}
		}
	}
	for id := range matrix {
		assert(t, seen[id], "the access matrix has a row for %s, which the contract does not define", id)
	}
}

// assert reports a failure without stopping the test, so one run lists
// every cell that disagrees; it returns ok.
func assert(t *testing.T, ok bool, format string, args ...any) bool {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
	return ok
}

func bearer(token string) string {
	if token == "" {
		return ""
	}
	return "Bearer " + token
}

// createRawAs stores a fresh raw message with one attachment with token's
// key and returns its id.
func (e *env) createRawAs(token, key string) int64 {
	e.t.Helper()
	msg := "Message-ID: <" + key + "@matrix.test>\r\nFrom: a@example.com\r\nTo: b@example.com\r\n" +
		"Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nSubject: matrix\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=a.bin\r\n\r\nbytes\r\n--b--\r\n"
	r := e.do(http.MethodPost, "/v1/emails", "message/rfc822", []byte(msg), "Idempotency-Key", key, "Authorization", bearer(token))
	require.Equal(e.t, http.StatusCreated, r.status, string(r.body))
	return int64(r.json(e.t)["id"].(float64))
}

// createAs stores a fresh email with token's key and returns its id.
func (e *env) createAs(token, key string) int64 {
	e.t.Helper()
	b, err := json.Marshal(sampleEmail(len(key)))
	require.NoError(e.t, err)
	r := e.do(http.MethodPost, "/v1/emails", "application/json", b, "Idempotency-Key", key, "Authorization", bearer(token))
	require.Equal(e.t, http.StatusCreated, r.status, string(r.body))
	return int64(r.json(e.t)["id"].(float64))
}
