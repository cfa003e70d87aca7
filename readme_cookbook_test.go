package mailsync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/testwait"
)

// cookbookSection is one "### task" of the README's cookbook and its sh blocks.
type cookbookSection struct {
	title  string
	blocks []string
}

// readmeCookbook returns the sh block that sets the cookbook's variables and
// the sections that follow it, between the cookbook markers.
func readmeCookbook(t *testing.T, path string) (setup string, sections []cookbookSection) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	begin, end := strings.Index(s, "<!-- cookbook:begin -->"), strings.Index(s, "<!-- cookbook:end -->")
	require.True(t, begin >= 0 && end > begin, "README.md lacks the cookbook markers")
	var block []string
	inSh := false
	for _, line := range strings.Split(s[begin:end], "\n") {
		switch {
		case strings.HasPrefix(line, "### "):
			sections = append(sections, cookbookSection{title: strings.TrimPrefix(line, "### ")})
		case !inSh && strings.TrimSpace(line) == "```sh":
			inSh, block = true, nil
		case inSh && strings.TrimSpace(line) == "```":
			inSh = false
			text := strings.Join(block, "\n")
			if len(sections) == 0 {
				setup = text
				continue
			}
			last := &sections[len(sections)-1]
			last.blocks = append(last.blocks, text)
		case inSh:
			block = append(block, line)
		}
	}
	require.NotEmpty(t, setup, "the cookbook starts with a block setting its variables")
	return setup, sections
}

// cookbookEnv is what the cookbook's blocks run against.
type cookbookEnv struct {
	base, databaseURL, serverBin string
}

// runCookbook runs the setup block and then every block of every section in
// one bash process, in order, as a reader pasting them into one terminal
// would (variables set by a block stay set), and returns each section's
// outputs, one per block. The README's address, database and binary are
// replaced by the test server's.
func runCookbook(t *testing.T, env cookbookEnv, setup string, sections []cookbookSection) map[string][]string {
	t.Helper()
	var script strings.Builder
	script.WriteString("set -euo pipefail\ncurl() { command curl --fail-with-body --max-time 30 \"$@\"; }\n")
	script.WriteString(setup + "\n")
	for i, sec := range sections {
		for j, b := range sec.blocks {
			fmt.Fprintf(&script, "echo '::cookbook %d %d::'\n%s\necho\n", i, j, b)
		}
	}
	text := strings.NewReplacer(
		readmeBase, env.base,
		"postgres://postgres@127.0.0.1:5432/mailsync", env.databaseURL,
		"bin/server ", env.serverBin+" ",
	).Replace(script.String())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", "-c", text).CombinedOutput()
	require.NoError(t, err, "a README cookbook block failed (the last ::cookbook section block:: marker says which):\n%s", out)

	outputs := map[string][]string{}
	marker := regexp.MustCompile(`(?m)^::cookbook (\d+) (\d+)::$`)
	idx := marker.FindAllStringSubmatchIndex(string(out), -1)
	for k, m := range idx {
		stop := len(out)
		if k+1 < len(idx) {
			stop = idx[k+1][0]
		}
		var i int
		_, _ = fmt.Sscan(string(out[m[2]:m[3]]), &i)
		title := sections[i].title
		outputs[title] = append(outputs[title], strings.TrimSpace(string(out[m[1]:stop])))
	}
	return outputs
}

// lastJSON decodes the last JSON value of a block's output (a block may
// print several).
func lastJSON(t *testing.T, out string) map[string]any {
	t.Helper()
	var last map[string]any
	start := strings.Index(out, "{")
	require.GreaterOrEqual(t, start, 0, "the block prints JSON: %s", out)
	dec := json.NewDecoder(strings.NewReader(out[start:]))
	for dec.More() {
		var m map[string]any
		require.NoError(t, dec.Decode(&m), out)
		last = m
	}
	require.NotNil(t, last, out)
	return last
}

// readmeGet reads one path of the test server with the dev key.
func readmeGet(t *testing.T, base, path string) string {
	t.Helper()
	return runBash(t, "curl -sS -H 'Authorization: Bearer dev-token-0123456789abcdef' "+base+path)
}

// cookbookChecks say what each cookbook section must have done, by title.
var cookbookChecks = map[string]func(t *testing.T, base string, outs []string){
	"Read JSON with jq": func(t *testing.T, base string, outs []string) {
		require.Regexp(t, `(?m)^1 (pending|synced) Where is order 1234\?$`, outs[0])
		require.Contains(t, outs[0], `"synced":`)
	},
	"Change an email's mailbox and labels": func(t *testing.T, base string, outs []string) {
		m := lastJSON(t, outs[0])
		require.EqualValues(t, 2, m["version"], outs[0])
		require.Equal(t, "orders", m["mailbox"])
		require.Equal(t, []any{"urgent"}, m["labels"])
	},
	"Deliver a message as an MTA would": func(t *testing.T, base string, outs []string) {
		id := regexp.MustCompile(`stored as email (\d+)`).FindStringSubmatch(outs[0])
		require.NotNil(t, id, "server deliver says which email it stored: %s", outs[0])
		m := jsonOf(t, readmeGet(t, base, "/v1/emails/"+id[1]))
		require.Equal(t, "support", m["mailbox"])
		require.Equal(t, []any{"support@example.org"}, m["envelope_to"])
	},
	"Provoke a failure and re-drive it": func(t *testing.T, base string, outs []string) {
		require.Len(t, outs, 2)
		failed := lastJSON(t, outs[0])
		require.NotEmpty(t, failed["sync_error"], "the failures list shows why: %s", outs[0])
		require.EqualValues(t, 1, lastJSON(t, outs[1])["requeued"], outs[1])
		path := fmt.Sprintf("/v1/emails/%d", int(failed["email_id"].(float64)))
		testwait.Until(t, time.Minute, "the re-driven email to sync", func() bool {
			return jsonOf(t, readmeGet(t, base, path))["sync_status"] == "synced"
		})
	},
	"Erase one email": func(t *testing.T, base string, outs []string) {
		m := lastJSON(t, outs[0])
		require.EqualValues(t, 2, m["id"], outs[0])
		require.NotEmpty(t, m["erased_at"])
		require.Equal(t, "privacy request 17", m["erase_reason"])
		code := runBash(t, "command curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer dev-token-0123456789abcdef' "+base+"/v1/emails/2")
		require.Equal(t, "410", code, "an erased email answers 410")
	},
	"Erase everything of one address, and follow the job": func(t *testing.T, base string, outs []string) {
		m := lastJSON(t, outs[0])
		require.Equal(t, "completed", m["status"], outs[0])
		require.EqualValues(t, 1, m["matched"], "Alice's email of the Quick start")
		require.EqualValues(t, 1, m["erased"])
	},
	"Read the audit log": func(t *testing.T, base string, outs []string) {
		for _, action := range []string{"email.patch", "email.erase", "erasure.start", "erasure.batch", "sync.retry", "sync.retry_failed"} {
			require.Contains(t, outs[0], " "+action+" ", "the audit log shows %s", action)
		}
	},
	"Run a dry reconciliation (it repairs nothing) and read its report": func(t *testing.T, base string, outs []string) {
		m := lastJSON(t, outs[0])
		require.Equal(t, "completed", m["status"], outs[0])
		require.Equal(t, true, m["dry_run"])
		require.EqualValues(t, 0, m["mismatches_found"], "the stores agree after the cookbook")
		require.Positive(t, m["records_checked"])
	},
}

// checkCookbook runs the README's cookbook and each section's check; every
// section needs a check and every check a section.
func checkCookbook(t *testing.T, env cookbookEnv) {
	t.Helper()
	setup, sections := readmeCookbook(t, "README.md")
	titles := map[string]bool{}
	for _, sec := range sections {
		_, ok := cookbookChecks[sec.title]
		require.True(t, ok, "the test does not know what the README cookbook's %q should do; add a check", sec.title)
		require.NotEmpty(t, sec.blocks, "cookbook section %q has no sh block", sec.title)
		titles[sec.title] = true
	}
	for title := range cookbookChecks {
		require.True(t, titles[title], "the README's cookbook no longer shows %q", title)
	}
	outputs := runCookbook(t, env, setup, sections)
	for _, sec := range sections {
		require.Len(t, outputs[sec.title], len(sec.blocks), "outputs of %q", sec.title)
		cookbookChecks[sec.title](t, env.base, outputs[sec.title])
	}
}
