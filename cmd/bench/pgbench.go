package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"mailsync/internal/email"
	"mailsync/internal/handlers"
)

// The pgbench baseline runs the statements of the ingest transaction,
// taken verbatim from the sqlc query file (so it cannot drift from what
// ingest.Service runs), with the named parameters replaced by the sample
// email's values as SQL literals and a unique idempotency key and
// Message-ID per transaction. Like ingest it runs BEGIN; claim the key;
// insert the email and its outbox row; complete the key; COMMIT.

// pgbenchQueries are the statements of the ingest transaction, in order,
// with the pgbench meta-command that ends each.
var pgbenchQueries = []struct{ name, end string }{
	{"ClaimIdempotencyKey", `\gset k_`},
	{"InsertEmail", `\gset e_`},
	{"CompleteIdempotencyKey", ";"},
}

// pgbenchVars are the only pgbench variables the script may reference.
var pgbenchVars = map[string]bool{"r": true, "client_id": true, "k_id": true, "e_id": true}

// pgbenchScript builds the script from the sqlc query file at path.
func pgbenchScript(path string) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the ingest queries: %w", err)
	}
	stmts := parseQueries(string(src))
	c := sampleContent("unused")
	body, err := sampleResponseBody(c)
	if err != nil {
		return "", err
	}
	headers, _ := json.Marshal(c.Headers)
	atts, _ := json.Marshal(c.Attachments)
	key := `('pgb-' || :client_id::text || '-' || :r::text)`
	params := map[string]string{
		"client_id": lit("pgbench"), "key": key, "idempotency_key": key,
		"request_fingerprint": lit(strings.Repeat("ab", 32)),
		"expires_at":          "(now() + interval '24 hours')",
		"message_id":          `('<' || :r::text || '@pgbench.example.com>')`,
		"mailbox":             lit(c.Mailbox), "from_address": lit(c.From),
		"to_addresses": textArray(c.To), "cc_addresses": textArray(c.Cc),
		"subject": lit(c.Subject), "text_body": lit(c.TextBody), "html_body": lit(c.HTMLBody),
		"headers": jsonLit(headers), "attachments": jsonLit(atts), "raw_size_bytes": "0",
		"received_at":  fmt.Sprintf("to_timestamp(%d)", c.ReceivedAt.Unix()),
		"content_hash": lit(c.Hash()), "max_retries": "10",
		"response_status": "201", "response_body": `'\x` + hex.EncodeToString(body) + `'::bytea`,
		"resource_id": ":e_id", "id": ":k_id",
	}
	var b strings.Builder
	b.WriteString("\\set r random(1, 9000000000000000000)\nBEGIN;\n")
	for _, q := range pgbenchQueries {
		sql, ok := stmts[q.name]
		if !ok {
			return "", fmt.Errorf("%s: no query named %s", path, q.name)
		}
		var missing []string
		sql = regexp.MustCompile(`@([a-z_]+)`).ReplaceAllStringFunc(sql, func(m string) string {
			v, ok := params[m[1:]]
			if !ok {
				missing = append(missing, m)
			}
			return v
		})
		if len(missing) > 0 {
			return "", fmt.Errorf("query %s: no benchmark value for %v", q.name, missing)
		}
		b.WriteString(sql + "\n" + q.end + "\n")
	}
	b.WriteString("COMMIT;\n")
	script := b.String()
	return script, checkVariables(script)
}

// parseQueries splits a sqlc query file into statements by name, without
// comments and the final semicolon.
func parseQueries(src string) map[string]string {
	out := map[string]string{}
	var name string
	var body []string
	flush := func() {
		if name != "" {
			out[name] = strings.TrimSuffix(strings.TrimSpace(strings.Join(body, "\n")), ";")
		}
	}
	for _, line := range strings.Split(src, "\n") {
		t := strings.TrimSpace(line)
		if f := strings.Fields(t); len(f) >= 3 && f[0] == "--" && f[1] == "name:" {
			flush()
			name, body = f[2], nil
			continue
		}
		if strings.HasPrefix(t, "--") || t == "" {
			continue
		}
		body = append(body, line)
	}
	flush()
	return out
}

// checkVariables fails when the script holds a ":name" that pgbench would
// take for a variable but is not one of pgbenchVars (e.g. inside a literal).
func checkVariables(script string) error {
	for _, m := range regexp.MustCompile(`:+[A-Za-z0-9_]+`).FindAllString(script, -1) {
		if strings.HasPrefix(m, "::") {
			continue // a cast
		}
		if !pgbenchVars[m[1:]] {
			return fmt.Errorf("pgbench script: %q would be read as a variable", m)
		}
	}
	return nil
}

func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func textArray(xs []string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = lit(x)
	}
	return "ARRAY[" + strings.Join(parts, ", ") + "]::text[]"
}

// jsonLit is a jsonb literal; a space after each key's colon keeps pgbench
// from reading `:value` as a variable (jsonb normalises it away).
func jsonLit(b []byte) string {
	return lit(strings.ReplaceAll(string(b), `":`, `": `)) + "::jsonb"
}

// sampleResponseBody is the cached response ingest stores for the sample
// email: same size, same shape.
func sampleResponseBody(c email.Content) ([]byte, error) {
	key := "pgb-1-1234567890123456789"
	now := time.Now()
	return handlers.RenderEmail(email.Stored{Content: c, ID: 123456, IdempotencyKey: &key, Version: 1,
		ContentHash: c.Hash(), SyncStatus: email.StatusPending, CreatedAt: now, UpdatedAt: now})
}

// runPgbench runs script with clients connections (and 2 threads) for d
// against dbURL in prepared mode (pgx, too, sends prepared statements) and
// returns the transactions per second pgbench reports; n > 0 runs n
// transactions in all instead of running for d.
func runPgbench(ctx context.Context, bin, dbURL, scriptPath string, clients int, d time.Duration, n int) (float64, error) {
	length := []string{"-T", strconv.Itoa(max(int(d.Round(time.Second)/time.Second), 1))}
	if n > 0 {
		length = []string{"-t", strconv.Itoa(max(n/clients, 1))}
	}
	args := append([]string{"-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", "2"}, length...)
	cmd := exec.CommandContext(ctx, bin, append(args, "-f", scriptPath, dbURL)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench: no tps in output:\n%s", out)
	}
	if f := regexp.MustCompile(`number of failed transactions: ([1-9][0-9]*)`).FindSubmatch(out); f != nil {
		return 0, fmt.Errorf("pgbench: %s failed transactions:\n%s", f[1], out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}
