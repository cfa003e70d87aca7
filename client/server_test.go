package client_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"mailsync/client"
	"mailsync/internal/apperr"
	"mailsync/internal/auth"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/erasure"
	"mailsync/internal/handlers"
	"mailsync/internal/ingest"
	"mailsync/internal/metrics"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/relay"
	"mailsync/internal/testwait"
)

const token = "client-test-token-0001"

// serve starts mailsync's whole HTTP surface with its relay on a
// kernel-chosen port, over a fresh PostgreSQL and MongoDB database, and
// returns its base URL.
func serve(t *testing.T) string {
	t.Helper()
	pool, _ := dbtest.New(t)
	mongo, _ := mongotest.NewStore(t)
	ctx := context.Background()
	require.NoError(t, mongo.EnsureIndexes(ctx))
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	rel := relay.New(pool, mongo, &relay.Config{Workers: 1, BatchSize: 50, MaxRetries: 3,
		BackoffBase: 50 * time.Millisecond, PollInterval: 100 * time.Millisecond, Metrics: m})
	require.NoError(t, rel.Start(ctx))
	t.Cleanup(func() { require.NoError(t, rel.Stop(context.Background())) })
	eraser := erasure.New(pool, &erasure.Config{MaxRetries: 3, Wake: rel.Notify, PollInterval: 50 * time.Millisecond})
	require.NoError(t, eraser.Start(ctx))
	t.Cleanup(func() { require.NoError(t, eraser.Stop(context.Background())) })
	keys, err := auth.ParseKeys("ops:" + token + ":ingest+read+admin")
	require.NoError(t, err)
	h := handlers.New(&handlers.Config{
		Pool: pool, Mongo: mongo, Reader: ingest.NewReader(pool), Erasure: eraser,
		Sync: relay.NewAdmin(pool, 1, 3, rel.Notify),
		Ingest: ingest.NewService(pool, &ingest.Config{Render: handlers.RenderEmail, MaxRetries: 3,
			Committed: func(int) { rel.Notify() }, Metrics: m}),
	})
	router, err := handlers.Router(h, handlers.RouterConfig{Keys: keys, MaxBodyBytes: 1 << 20, Gatherer: reg, Registerer: reg})
	require.NoError(t, err)
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestClientAgainstMailsync(t *testing.T) {
	t.Parallel()
	c, err := client.New(&client.Config{BaseURL: serve(t), Token: token})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// JSON: stored once; the same key again is the replay of the same email.
	in := input()
	first, err := c.IngestJSON(ctx, "order-1", in)
	require.NoError(t, err)
	require.False(t, first.Replay)
	again, err := c.IngestJSON(ctx, "order-1", in)
	require.NoError(t, err)
	require.True(t, again.Replay)
	require.Equal(t, first.Email.Id, again.Email.Id)

	// Raw with a derived key: the same bytes to the same recipients are one email.
	msg := "Message-ID: <raw-1@x>\r\nFrom: a@x\r\nTo: b@x\r\nSubject: hi\r\n\r\nhello\r\n"
	env := client.Envelope{From: "a@x", To: []string{"b@x"}, Mailbox: "support"}
	raw, err := c.IngestRaw(ctx, "", strings.NewReader(msg), env)
	require.NoError(t, err)
	rawAgain, err := c.IngestRaw(ctx, "", strings.NewReader(msg), env)
	require.NoError(t, err)
	require.True(t, rawAgain.Replay)
	require.Equal(t, raw.Email.Id, rawAgain.Email.Id)

	got, err := c.GetEmail(ctx, raw.Email.Id)
	require.NoError(t, err)
	require.Equal(t, "<raw-1@x>", got.MessageId)
	require.Equal(t, "support", got.Mailbox)

	// The relay syncs both emails; the status says so.
	testwait.Until(t, 30*time.Second, "both emails synced", func() bool {
		st, err := c.SyncStatus(ctx)
		require.NoError(t, err)
		return st.Emails.Synced == 2
	})

	failures, err := c.Failures(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, failures.Items)
	redriven, err := c.RetryFailures(ctx, client.RetrySyncFailuresRequest{})
	require.NoError(t, err)
	require.Zero(t, redriven.Requeued)

	// Errors are typed: a missing email is a 404 problem.
	_, err = c.GetEmail(ctx, raw.Email.Id+1000)
	var pe *client.ProblemError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 404, pe.Status)
	require.NotEmpty(t, pe.Type)
	require.NotEmpty(t, pe.Title)

	// Bad input is a 4xx problem and nothing is stored.
	bad := in
	bad.From = ""
	bad.MessageId = ""
	_, err = c.IngestJSON(ctx, "order-bad", bad)
	require.ErrorAs(t, err, &pe)
	require.True(t, pe.Status == 400 || pe.Status == 422, "status %d", pe.Status)

	// An erasure of the mailbox erases the raw email.
	mailbox := "support"
	job, err := c.CreateErasure(ctx, "erase-support", client.ErasureRequest{Mailbox: &mailbox})
	require.NoError(t, err)
	require.NotZero(t, job.Id)
	testwait.Until(t, 30*time.Second, "the erased email is gone", func() bool {
		_, err := c.GetEmail(ctx, raw.Email.Id)
		return err != nil
	})
	_, err = c.GetEmail(ctx, raw.Email.Id)
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 410, pe.Status)
}

// TestProblemTypesAreMailsyncs checks the problem types the client acts on
// against those mailsync answers: the 409 of a key in flight is retried.
func TestProblemTypesAreMailsyncs(t *testing.T) {
	t.Parallel()
	_, p := handlers.Problem(apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still being processed"))
	require.Equal(t, client.InProgressType, p.Type)
	require.True(t, client.RetryableStatus(int(p.Status), p.Type))
	_, p = handlers.Problem(apperr.New(apperr.RunInProcess, "a reconciliation is running"))
	require.False(t, client.RetryableStatus(int(p.Status), p.Type))
	require.True(t, strings.HasPrefix(p.Type, client.ProblemTypePrefix))
}
