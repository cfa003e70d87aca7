package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPgbenchScriptBindsEveryParameter keeps the pgbench baseline in step
// with the ingest queries: a parameter added to them without a benchmark
// value fails here, not in the middle of make bench.
func TestPgbenchScriptBindsEveryParameter(t *testing.T) {
	script, defines, err := pgbenchScript("../../internal/db/queries/emails.sql")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(script, "\\set r random"))
	require.Contains(t, script, "COMMIT;")
	require.NotContains(t, script, "sqlc.", "pgbench cannot run sqlc's parameter forms")
	require.NotEmpty(t, defines)
	for _, d := range defines {
		require.False(t, strings.HasSuffix(d, "="), "pgbench refuses an empty -D value: %s", d)
	}
}

// TestGroupedScriptsBindEveryParameter: both grouped pgbench baselines
// build from the ingest queries.
func TestGroupedScriptsBindEveryParameter(t *testing.T) {
	for _, inSQL := range []bool{true, false} {
		script, defines, err := groupedScript("../../internal/db/queries/emails.sql", 3, inSQL)
		require.NoError(t, err)
		require.Contains(t, script, "COMMIT;")
		require.NotContains(t, script, "sqlc.", "pgbench cannot run sqlc's parameter forms")
		require.NotEmpty(t, defines)
		if inSQL {
			require.Contains(t, script, "generate_series(1, 3)")
		} else {
			require.Equal(t, 3, strings.Count(script, "INSERT INTO incoming_emails"))
		}
	}
}
