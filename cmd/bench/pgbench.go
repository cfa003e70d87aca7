package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The pgbench baseline runs the statements of the ingest transaction,
// taken verbatim from the sqlc query file (so it cannot drift from what
// ingest.Service runs), in prepared mode with the sample email's values
// bound as parameters (pgbench -D variables), as pgx binds them, and a
// unique idempotency key and Message-ID per transaction. Like ingest it runs
// BEGIN; claim the key; insert the email and its outbox row; complete the
// key; COMMIT.

// pgbenchQueries are the statements of the ingest transaction, in order,
// with the pgbench meta-command that ends each.
var pgbenchQueries = []struct{ name, end string }{
	{"ClaimIdempotencyKey", `\gset k_`},
	{"InsertEmail", `\gset e_`},
	{"CompleteIdempotencyKey", ";"},
}

// pgbenchScript builds the script from the sqlc query file at path, and
// the -D variable definitions it needs.
func pgbenchScript(path string) (script string, defines []string, err error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("read the ingest queries: %w", err)
	}
	stmts := parseQueries(string(src))
	key := `('pgb-' || :client_id::text || '-' || :r::text)`
	b, err := newBinder(key, `('<' || :r::text || '@pgbench.example.com>')`)
	if err != nil {
		return "", nil, err
	}
	b.exprs["resource_id"], b.exprs["id"] = ":e_id", ":k_id"
	b.allowed["k_id"], b.allowed["e_id"] = true, true
	var sb strings.Builder
	sb.WriteString("\\set r random(1, 9000000000000000000)\nBEGIN;\n")
	for _, q := range pgbenchQueries {
		sql, ok := stmts[q.name]
		if !ok {
			return "", nil, fmt.Errorf("%s: no query named %s", path, q.name)
		}
		if sql, err = b.bind(q.name, sql); err != nil {
			return "", nil, err
		}
		sb.WriteString(sql + "\n" + q.end + "\n")
	}
	sb.WriteString("COMMIT;\n")
	return sb.String(), b.defines, checkVariables(sb.String(), b.allowed)
}

// binder replaces the @parameters of the sqlc queries with pgbench
// variables (the sample email's values, bound as parameters like pgx binds
// them) or expressions (computed per transaction).
type binder struct {
	exprs   map[string]string
	allowed map[string]bool
	defines []string
}

// newBinder binds the sample email; key and messageID are the expressions
// of the idempotency key and Message-ID.
func newBinder(key, messageID string) (*binder, error) {
	c := sampleContent("unused")
	headers, _ := json.Marshal(c.Headers)
	atts, _ := json.Marshal(c.Attachments)
	vars := map[string]string{ // bound as parameters, like pgx binds them
		"mailbox": c.Mailbox, "from_address": c.From, "to_addresses": pgArray(c.To), "cc_addresses": pgArray(c.Cc),
		"subject": c.Subject, "text_body": c.TextBody, "html_body": c.HTMLBody,
		"headers": string(headers), "attachments": string(atts), "raw_size_bytes": "0",
		"received_at": c.ReceivedAt.Format(time.RFC3339Nano), "content_hash": c.Hash(), "max_retries": "10",
		"request_fingerprint": strings.Repeat("ab", 32), "expires_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339Nano),
		"response_status": "201", "envelope_from": c.EnvelopeFrom, "envelope_to": pgArray(c.EnvelopeTo),
		"message_id_source": c.MessageIDSource(), "incomplete": strconv.FormatBool(c.Incomplete),
		"parse_defects": "{}", "auth_results": "{}",
	}
	b := &binder{
		exprs: map[string]string{"client_id": "'pgbench'", "key": key, "idempotency_key": key, "message_id": messageID,
			"trace_id": "NULL", "traceparent": "NULL", "tracestate": "NULL"}, // tracing off, as the bench serves
		allowed: map[string]bool{"r": true, "client_id": true},
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if vars[k] == "" { // pgbench refuses an empty -D value
			b.exprs[k] = "''"
			continue
		}
		b.exprs[k] = ":" + k
		b.allowed[k] = true
		b.defines = append(b.defines, "-D", k+"="+vars[k])
	}
	return b, nil
}

// bind replaces every @parameter of the query name; one without a value is
// an error.
func (b *binder) bind(name, sql string) (string, error) {
	var missing []string
	sql = regexp.MustCompile(`sqlc\.n?arg\(([a-z_]+)\)`).ReplaceAllString(sql, "@$1") // sqlc's other parameter forms
	sql = regexp.MustCompile(`@([a-z_]+)`).ReplaceAllStringFunc(sql, func(m string) string {
		v, ok := b.exprs[m[1:]]
		if !ok {
			missing = append(missing, m)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("query %s: no benchmark value for %v", name, missing)
	}
	return sql, nil
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
// take for a variable but is not one of allowed (e.g. inside a literal).
func checkVariables(script string, allowed map[string]bool) error {
	for _, m := range regexp.MustCompile(`:+[A-Za-z0-9_]+`).FindAllString(script, -1) {
		if strings.HasPrefix(m, "::") {
			continue // a cast
		}
		if !allowed[m[1:]] {
			return fmt.Errorf("pgbench script: %q would be read as a variable", m)
		}
	}
	return nil
}

// pgArray is the text form of a PostgreSQL text[] holding xs.
func pgArray(xs []string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(x) + `"`
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// runPgbench runs script with clients connections (and 2 threads) for d
// against dbURL in prepared mode (pgx, too, sends prepared statements) and
// returns the transactions per second pgbench reports; n > 0 runs n
// transactions in all instead of running for d.
func runPgbench(ctx context.Context, bin, dbURL, scriptPath string, defines []string, clients int, d time.Duration, n int) (float64, error) {
	length := []string{"-T", strconv.Itoa(max(int(d.Round(time.Second)/time.Second), 1))}
	if n > 0 {
		length = []string{"-t", strconv.Itoa(max(n/clients, 1))}
	}
	args := append([]string{"-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", "2"}, length...)
	args = append(args, defines...)
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
