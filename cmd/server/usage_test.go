package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHelpListsTheCommands runs the built binary as a newcomer would:
// `server`, `server help`, `server -h` and `server --help` print every
// command on stdout and exit 0 without starting anything; an unknown command
// exits 1 and points at `server help`.
func TestHelpListsTheCommands(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "server")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	for _, args := range [][]string{nil, {"help"}, {"-h"}, {"--help"}} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		// A configuration that could not serve: help must not need one.
		cmd.Env = []string{"DATABASE_URL=postgres://127.0.0.1:1/none", "HTTP_ADDR=127.0.0.1:1"}
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "server %v exits 0; stderr: %s", args, stderr.String())
		for _, c := range []string{"server serve [--role=all|api|relay]", "server migrate up|down|version",
			"server reconcile [--dry-run]", "server deliver ", "server help"} {
			require.Contains(t, stdout.String(), c, "server %v lists %q", args, c)
		}
		require.Empty(t, stderr.String(), "server %v", args)
	}

	var stderr bytes.Buffer
	cmd := exec.Command(bin, "bogus")
	cmd.Stderr = &stderr
	var exit *exec.ExitError
	require.True(t, errors.As(cmd.Run(), &exit), "an unknown command fails")
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, stderr.String(), `unknown command "bogus"`)
	require.Contains(t, stderr.String(), "server help lists them")
}
