package mongotest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/testwait"
)

// TestPerProcessServerIsQuietAndClean: a test process that starts its own
// devmongo (no MAILSYNC_TEST_MONGO_URL) prints none of FerretDB's error
// lines for the duplicate keys it expects, and leaves no database behind.
func TestPerProcessServerIsQuietAndClean(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "MONGOTEST_HELPER=1", "MAILSYNC_TEST_MONGO_URL=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	m := regexp.MustCompile(`HELPER_PID=(\d+)`).FindSubmatch(out)
	require.NotNil(t, m, "%s", out)
	require.NotRegexp(t, `(?i)level=error|duplicate key`, string(out), "devmongo's expected errors reach the test output")

	name := "mailsync_devmongo_p" + string(m[1])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbtest.BaseURL())
	require.NoError(t, err)
	defer conn.Close(ctx)
	gone := testwait.Poll(30*time.Second, func() bool {
		var exists bool
		require.NoError(t, conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists))
		return !exists
	})
	if !gone {
		_ = dbtest.DropDatabase(name)
		t.Fatalf("database %s is still there 30 s after its test process ended", name)
	}
}

// TestHelperProcess is the child of TestPerProcessServerIsQuietAndClean: it
// uses the per-process devmongo and provokes a duplicate key error.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("MONGOTEST_HELPER") != "1" {
		t.Skip("helper process only")
	}
	s, _ := mongotest.NewStore(t)
	ctx := context.Background()
	_, err := s.Coll().InsertOne(ctx, bson.D{{Key: "_id", Value: 1}})
	require.NoError(t, err)
	_, err = s.Coll().InsertOne(ctx, bson.D{{Key: "_id", Value: 1}})
	require.Error(t, err, "a duplicate key")
	fmt.Printf("HELPER_PID=%d\n", os.Getpid())
}
