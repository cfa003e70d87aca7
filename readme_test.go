package mailsync_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/testwait"
)

// readmeBase is the address the README's quick start uses; the test runs its
// curl lines against its own server instead.
const readmeBase = "http://127.0.0.1:8080"

// TestReadmeQuickStart follows the README's quick start literally: it starts
// the server the way make run does (scripts/run.sh, which starts its own
// devmongo) on free ports with its own databases, checks the banner make run
// prints, runs every curl line of the quick start with bash and checks what
// each prints. Then the rest of the newcomer's path: a second make run on the
// same port refuses before starting anything, one on another port uses the
// devmongo already running and leaves it running, make clean refuses while make
// run runs, stopping make run stops its devmongo, and make clean drops both
// databases.
func TestReadmeQuickStart(t *testing.T) {
	t.Parallel()
	cmds := quickStartCommands(t, "README.md")
	bin := filepath.Join(t.TempDir(), "server")
	build := exec.Command("go", "build", "-o", bin, "./cmd/server")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	httpAddr, mongoAddr := freeAddr(t), freeAddr(t)
	base := "http://" + httpAddr
	db := "mailsync_readme_" + randomHex(t)
	runDir := filepath.Join(t.TempDir(), "run")
	t.Cleanup(func() { dropDatabases(t, db, db+"_mongo") })
	env := map[string]string{
		"HTTP_ADDR":           httpAddr,
		"DEVMONGO_ADDR":       mongoAddr,
		"DATABASE_URL":        "postgres://postgres@127.0.0.1:5432/" + db + "?sslmode=disable",
		"MAILSYNC_SERVER_BIN": bin,
		"MAILSYNC_RUN_DIR":    runDir,
	}
	run := startMakeRun(t, env)

	banner := run.waitFor(t, "readiness   "+base+"/readyz", 3*time.Minute)
	for _, line := range quickStartBanner(t, "README.md") {
		require.Contains(t, banner, strings.ReplaceAll(line, readmeBase, base), "the README shows what make run prints")
	}
	for _, want := range []string{base + "/docs", base + "/dashboard", "Bearer dev-token-0123456789abcdef",
		"starting devmongo (FerretDB"} {
		require.Contains(t, banner, want, "make run's output")
	}
	page := runBash(t, "curl -sS "+base+"/dashboard")
	require.Contains(t, page, "dev-token-0123456789abcdef", "the dashboard names the key make run prints")

	seen := map[string]bool{}
	for _, c := range cmds {
		cmd := strings.ReplaceAll(c, readmeBase, base)
		check, ok := checkFor(cmd)
		require.True(t, ok, "the test does not know what this README curl line should print; add a check:\n%s", c)
		check.run(t, cmd)
		seen[check.name] = true
	}
	for _, c := range readmeChecks {
		require.True(t, seen[c.name], "the README's quick start no longer shows %s", c.name)
	}
	checkCookbook(t, cookbookEnv{base: base, databaseURL: env["DATABASE_URL"], serverBin: bin})

	// A second make run on the same address stops before starting anything.
	otherMongo := freeAddr(t)
	second := exec.Command("bash", "scripts/run.sh")
	second.Env = append(run.cmd.Env, "DEVMONGO_ADDR="+otherMongo, "MAILSYNC_RUN_DIR="+t.TempDir())
	out, err = second.CombinedOutput()
	require.Error(t, err, "make run on a busy port must fail:\n%s", out)
	require.Contains(t, string(out), httpAddr+" is already in use")
	require.Contains(t, string(out), "HTTP_ADDR=127.0.0.1:18080 make run")
	require.False(t, dialable(otherMongo), "make run started devmongo before finding its port taken")

	// A make run that finds a MongoDB listening on its port uses it, says so,
	// and leaves it running when it stops.
	env["HTTP_ADDR"], env["MAILSYNC_RUN_DIR"] = freeAddr(t), t.TempDir()
	reuse := startMakeRun(t, env)
	require.Contains(t, reuse.waitFor(t, "mailsync is ready on", 3*time.Minute),
		"MongoDB: using the server already listening on "+mongoAddr)
	reuse.stop(t)
	require.True(t, dialable(mongoAddr), "make run stopped a MongoDB it had not started")

	// make clean refuses while make run runs; once it stopped, so has its devmongo.
	clean := func() ([]byte, error) {
		c := exec.Command("bash", "scripts/clean.sh")
		c.Env = run.cmd.Env
		return c.CombinedOutput()
	}
	out, err = clean()
	require.Error(t, err, "make clean while make run runs:\n%s", out)
	require.Contains(t, string(out), "make run is still running")
	stopAsReadmeSays(t, run, runDir)
	testwait.Until(t, 20*time.Second, "the devmongo make run started to stop listening on "+mongoAddr+" after make run stopped",
		func() bool { return !dialable(mongoAddr) })

	// make clean drops both databases and the run directory.
	out, err = clean()
	require.NoError(t, err, "make clean:\n%s", out)
	exists := runBash(t, fmt.Sprintf(`psql -h 127.0.0.1 -U postgres -d postgres -tAc `+
		`"SELECT count(*) FROM pg_database WHERE datname IN ('%s', '%s_mongo')"`, db, db))
	require.Equal(t, "0", strings.TrimSpace(exists), "make clean left a database behind")
	require.NoDirExists(t, runDir)
}

// stopAsReadmeSays stops make run with the README's kill line, after
// checking that the pid file it reads holds make run's script.
func stopAsReadmeSays(t *testing.T, run *makeRun, runDir string) {
	t.Helper()
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	kill := regexp.MustCompile(`(?m)^kill .*\.run/run\.pid.*$`).FindString(string(b))
	require.NotEmpty(t, kill, "the README says how to stop a make run started in the background")
	pid, err := os.ReadFile(filepath.Join(runDir, "run.pid"))
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(run.cmd.Process.Pid), strings.TrimSpace(string(pid)), "run.pid holds make run's script")
	runBash(t, strings.ReplaceAll(kill, ".run/", runDir+"/"))
	select {
	case <-run.done:
	case <-time.After(time.Minute):
		t.Fatalf("make run did not stop within a minute of the README's %s:\n%s", kill, run.out.String())
	}
}

// quickStartCommands returns the curl commands of the sh blocks between the
// README's quickstart markers, continuation lines joined.
func quickStartCommands(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	begin, end := strings.Index(s, "<!-- quickstart:begin -->"), strings.Index(s, "<!-- quickstart:end -->")
	require.True(t, begin >= 0 && end > begin, "README.md lacks the quickstart markers")
	var cmds []string
	inSh, cur := false, ""
	for _, line := range strings.Split(s[begin:end], "\n") {
		switch {
		case !inSh && strings.TrimSpace(line) == "```sh":
			inSh = true
		case inSh && strings.TrimSpace(line) == "```":
			inSh = false
		case inSh:
			cur += strings.TrimSuffix(line, "\\")
			if strings.HasSuffix(line, "\\") {
				continue
			}
			if strings.HasPrefix(strings.TrimSpace(cur), "curl ") {
				cmds = append(cmds, strings.TrimSpace(cur))
			}
			cur = ""
		}
	}
	for _, c := range cmds {
		require.Contains(t, c, readmeBase, "every quick start curl line talks to %s", readmeBase)
	}
	return cmds
}

// quickStartBanner returns the lines of the README's plain fenced block that
// shows what make run prints once ready.
func quickStartBanner(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(b), "```\nmailsync is ready on")
	require.True(t, ok, "the README shows make run's ready banner")
	block, _, _ := strings.Cut("mailsync is ready on"+after, "\n```")
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// runBash runs one command line with bash in the repository's directory, as
// a reader pasting it would; curl fails on an HTTP error status.
func runBash(t *testing.T, line string) string {
	t.Helper()
	script := "set -euo pipefail\ncurl() { command curl --fail-with-body --max-time 30 \"$@\"; }\n" + line
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	require.NoError(t, err, "%s\n%s", line, out)
	return string(out)
}

// jsonOf decodes a command's output as one JSON object.
func jsonOf(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &m), out)
	return m
}
