package mongostore_test

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/mongostore"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/testlog"
	"mailsync/internal/testwait"
)

// TestDevmongoLogsOnlyRealProblems runs devmongo as make run does (log level
// warn) and does what mailsync does all day: a document written again
// (a PATCH: the insert meets the existing _id and the relay replaces it) and
// clients that disconnect (the driver's endSessions). None of it may appear
// in devmongo's log as an error or a warning; a command FerretDB really
// refuses still does.
func TestDevmongoLogsOnlyRealProblems(t *testing.T) {
	t.Parallel()
	bin, err := mongotest.Binary()
	require.NoError(t, err)
	pgdb := fmt.Sprintf("mailsync_devmongo_log_%d", time.Now().UnixNano())
	pgURL := strings.Replace(dbtest.BaseURL(), "/postgres?", "/"+pgdb+"?", 1)
	log := &testlog.Buffer{}
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-postgresql-url", pgURL, "-exit-with-parent",
		"-drop-database-on-exit", "-log-level", "warn")
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = dbtest.DropDatabase(pgdb) })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "devmongo prints its URL: %s", log)
	url := strings.TrimSpace(line)

	ctx := context.Background()
	s, _ := mongotest.StoreAt(t, url)
	_, err = s.Write(ctx, []mongostore.Document{doc(1, 1, "first")})
	require.NoError(t, err)
	res, err := s.Write(ctx, []mongostore.Document{doc(1, 2, "patched")})
	require.NoError(t, err)
	require.Equal(t, 1, res.Replaced, "the second write replaced the document")
	require.NoError(t, s.Close(ctx)) // endSessions

	// A command FerretDB does not know is still logged: once it is, every
	// earlier line has been written.
	other, _ := mongotest.StoreAt(t, url)
	require.Error(t, other.Coll().Database().RunCommand(ctx, bson.D{{Key: "noSuchCommand", Value: 1}}).Err())
	testwait.Until(t, 10*time.Second, "devmongo to log the unknown command", func() bool {
		return strings.Contains(log.String(), "noSuchCommand")
	})
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, "noSuchCommand") || strings.TrimSpace(l) == "" {
			continue
		}
		require.NotContains(t, l, "level=ERROR", "devmongo logs what mailsync does on purpose as an error")
		require.NotContains(t, l, "endSessions", "devmongo logs the driver's endSessions")
	}
}
