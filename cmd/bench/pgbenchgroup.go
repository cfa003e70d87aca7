package main

import (
	"fmt"
	"os"
	"strings"
)

// The grouped database limit: pgbench storing n emails per transaction,
// with the statements of the ingest transaction taken from the sqlc query
// file, at mailsync's transaction parallelism (pgbench -c is the number of
// group transactions mailsync runs at once). Two forms:
//
//   - rows generated in SQL: one INSERT … SELECT … FROM generate_series(1, n)
//     per statement (the key claims, the emails with their outbox rows), and
//     one UPDATE completing the n keys; the email's content crosses the
//     network once per statement, not once per row. No client can send n
//     emails for less, so this is an upper bound;
//   - rows sent by the client: each row's three statements with the content
//     bound as parameters, all 3n in one pipeline inside BEGIN/COMMIT (one
//     round trip; mailsync makes three). pgbench cannot read results inside
//     a pipeline, so the completion finds the key record and the email by
//     their unique indexes instead of by the returned ids.

// groupedScript builds the script storing n emails per transaction.
func groupedScript(path string, n int, inSQL bool) (script string, defines []string, err error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("read the ingest queries: %w", err)
	}
	stmts := parseQueries(string(src))
	for _, q := range pgbenchQueries {
		if _, ok := stmts[q.name]; !ok {
			return "", nil, fmt.Errorf("%s: no query named %s", path, q.name)
		}
	}
	var sb strings.Builder
	sb.WriteString("\\set r random(1, 9000000000000000000)\n")
	var b *binder
	if inSQL {
		b, err = groupedInSQL(&sb, stmts, n)
	} else {
		b, err = groupedFromClient(&sb, stmts, n)
	}
	if err != nil {
		return "", nil, err
	}
	return sb.String(), b.defines, checkVariables(sb.String(), b.allowed)
}

func groupedInSQL(sb *strings.Builder, stmts map[string]string, n int) (*binder, error) {
	key := `('pgb-' || :client_id::text || '-' || :r::text || '-' || g)`
	b, err := newBinder(key, `('<' || :r::text || '-' || g || '@pgbench.example.com>')`)
	if err != nil {
		return nil, err
	}
	series := fmt.Sprintf(" FROM generate_series(1, %d) AS g", n)
	sb.WriteString("BEGIN;\n")
	for _, name := range []string{"ClaimIdempotencyKey", "InsertEmail"} {
		sql, err := valuesToSelect(stmts[name], series)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", name, err)
		}
		if sql, err = b.bind(name, sql); err != nil {
			return nil, err
		}
		sb.WriteString(sql + ";\n")
	}
	set, err := setClause(stmts["CompleteIdempotencyKey"])
	if err != nil {
		return nil, err
	}
	b.exprs["resource_id"] = "e.id"
	if set, err = b.bind("CompleteIdempotencyKey", set); err != nil {
		return nil, err
	}
	fmt.Fprintf(sb, "UPDATE idempotency_keys k SET %s\nFROM incoming_emails e\n"+
		"WHERE e.client_id = 'pgbench' AND e.idempotency_key = k.key AND k.client_id = 'pgbench'\n"+
		"  AND k.key IN (SELECT %s%s);\nCOMMIT;\n", set, key, series)
	return b, nil
}

func groupedFromClient(sb *strings.Builder, stmts map[string]string, n int) (*binder, error) {
	var b *binder
	parts := make([][]string, 3)
	for i := 1; i <= n; i++ {
		key := fmt.Sprintf(`('pgb-' || :client_id::text || '-' || :r::text || '-%d')`, i)
		var err error
		if b, err = newBinder(key, fmt.Sprintf(`('<' || :r::text || '-%d@pgbench.example.com>')`, i)); err != nil {
			return nil, err
		}
		b.exprs["id"] = "(SELECT id FROM idempotency_keys WHERE client_id = 'pgbench' AND key = " + key + ")"
		b.exprs["resource_id"] = "(SELECT id FROM incoming_emails WHERE client_id = 'pgbench' AND idempotency_key = " + key + ")"
		for j, q := range pgbenchQueries {
			sql, err := b.bind(q.name, stmts[q.name])
			if err != nil {
				return nil, err
			}
			parts[j] = append(parts[j], sql+";\n")
		}
	}
	sb.WriteString("\\startpipeline\nBEGIN;\n")
	for _, p := range parts {
		sb.WriteString(strings.Join(p, ""))
	}
	sb.WriteString("COMMIT;\n\\endpipeline\n")
	return b, nil
}

// valuesToSelect turns INSERT … VALUES (list) … into INSERT … SELECT list
// <from> ….
func valuesToSelect(sql, from string) (string, error) {
	i := strings.Index(sql, "VALUES (")
	if i < 0 {
		return "", fmt.Errorf("no VALUES list")
	}
	depth, start := 0, i+len("VALUES (")
	for j := start - 1; j < len(sql); j++ {
		switch sql[j] {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return sql[:i] + "SELECT " + sql[start:j] + from + sql[j+1:], nil
			}
		}
	}
	return "", fmt.Errorf("unbalanced VALUES list")
}

// setClause is the assignments between SET and WHERE of an UPDATE.
func setClause(sql string) (string, error) {
	s, w := strings.Index(sql, "SET "), strings.LastIndex(sql, "WHERE ")
	if s < 0 || w < s {
		return "", fmt.Errorf("query CompleteIdempotencyKey: not UPDATE … SET … WHERE …")
	}
	return strings.TrimSpace(sql[s+len("SET ") : w]), nil
}
