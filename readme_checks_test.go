package mailsync_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/testwait"
)

// readmeCheck says what a kind of quick start curl line must print.
type readmeCheck struct {
	name  string
	match func(cmd string) bool
	check func(t *testing.T, cmd, out string)
}

func (c readmeCheck) run(t *testing.T, cmd string) {
	t.Helper()
	out := runBash(t, cmd)
	require.NotContains(t, out, `\u003c`, "JSON keeps < and > as themselves: %s", cmd)
	c.check(t, cmd, out)
}

var emailPath = regexp.MustCompile(`/v1/emails/[0-9]+$`)

// readmeChecks are the things the quick start must show, in any order.
var readmeChecks = []readmeCheck{
	{
		name:  "the readiness check",
		match: func(cmd string) bool { return strings.HasSuffix(cmd, "/readyz") },
		check: func(t *testing.T, cmd, out string) {
			require.Equal(t, "ok", jsonOf(t, out)["status"], out)
		},
	},
	{
		name: "storing an email as JSON",
		match: func(cmd string) bool {
			return strings.Contains(cmd, "-X POST") && strings.Contains(cmd, "Content-Type: application/json")
		},
		check: func(t *testing.T, cmd, out string) {
			m := jsonOf(t, out)
			require.EqualValues(t, 1, m["id"], "the first email of a fresh database is 1, as the README says")
			require.Contains(t, out, `"message_id":"<1@mail.example.com>"`)
			// A replay renders the email as its row is now: the relay may
			// have synced it meanwhile.
			again := jsonOf(t, runBash(t, cmd))
			for _, f := range []string{"sync_status", "synced_at", "updated_at"} {
				delete(m, f)
				delete(again, f)
			}
			require.Equal(t, m, again, "sending it again replays the same email")
		},
	},
	{
		name:  "reading an email",
		match: func(cmd string) bool { return !strings.Contains(cmd, "-X POST") && emailPath.MatchString(cmd) },
		check: func(t *testing.T, cmd, out string) {
			m := jsonOf(t, out)
			require.EqualValues(t, 1, m["id"])
			require.Contains(t, []any{"pending", "synced"}, m["sync_status"])
		},
	},
	{
		name:  "an email's sync trace",
		match: func(cmd string) bool { return strings.HasSuffix(cmd, "/sync") },
		check: func(t *testing.T, cmd, out string) {
			require.EqualValues(t, 1, jsonOf(t, out)["email_id"], out)
			// The relay copies it to MongoDB shortly, as the README says.
			testwait.Until(t, time.Minute, "the email to become synced: "+cmd,
				func() bool { return jsonOf(t, runBash(t, cmd))["sync_status"] == "synced" })
		},
	},
	{
		name:  "a raw upload",
		match: func(cmd string) bool { return strings.Contains(cmd, "--data-binary @") },
		check: func(t *testing.T, cmd, out string) {
			file := regexp.MustCompile(`--data-binary @(\S+)`).FindStringSubmatch(cmd)[1]
			raw, err := os.ReadFile(file)
			require.NoError(t, err, "the README uploads a file of the repository")
			mid := regexp.MustCompile(`(?m)^Message-ID: (<[^>\r\n]+>)`).FindSubmatch(raw)
			require.NotNil(t, mid, "%s has a Message-ID", file)
			require.Contains(t, out, `"message_id":"`+string(mid[1])+`"`)
			require.EqualValues(t, 2, jsonOf(t, out)["id"])
		},
	},
}

// checkFor finds the check of a quick start curl line.
func checkFor(cmd string) (readmeCheck, bool) {
	for _, c := range readmeChecks {
		if c.match(cmd) {
			return c, true
		}
	}
	return readmeCheck{}, false
}
