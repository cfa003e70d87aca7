package relay_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/relay"
	"mailsync/internal/testwait"
)

// TestBigEmailsAreLoadedInBoundedChunks relays one batch of six 1 MiB
// emails and twenty small ones with a load budget of 2.5 MiB: the relay
// must load (and write) them in chunks under the budget, never the whole
// batch at once, and still sync every email exactly once.
func TestBigEmailsAreLoadedInBoundedChunks(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	m, _ := mongotest.NewStore(t)
	svc := ingest.NewService(pool, &ingest.Config{Render: render, MaxRetries: 3})
	var items []ingest.Item
	for i := range 26 {
		c := content(i)
		if i%4 == 0 && i < 24 {
			c = bigContent(i, 1<<20)
		}
		items = append(items, ingest.Item{Key: fmt.Sprint("k", i), Fingerprint: fmt.Sprint(i), Content: c})
	}
	_, err := svc.Ingest(context.Background(), "test", items)
	require.NoError(t, err)

	const budget = 5 << 19 // 2.5 MiB
	r := relay.New(pool, m, &relay.Config{Workers: 1, BatchSize: 100, LoadBytes: budget, PollInterval: time.Hour})
	var mu sync.Mutex
	var loads []int64
	emails := 0
	r.OnLoad(func(n int, bytes int64) {
		mu.Lock()
		defer mu.Unlock()
		loads = append(loads, bytes)
		emails += n
	})
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Stop(context.Background())) }()
	testwait.Until(t, 60*time.Second, "every email synced", func() bool {
		return count(t, pool, `SELECT count(*) FROM incoming_emails WHERE sync_status = 'synced'`) == 26
	})
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 26, emails, "each email loaded once")
	require.GreaterOrEqual(t, len(loads), 3, "six 1 MiB emails under a 2.5 MiB budget take three loads or more")
	for _, b := range loads {
		require.LessOrEqual(t, b, int64(budget), "bytes loaded at once")
	}
	assertAllSyncedOnce(t, pool, m, 26)
}
