package handlers_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"mailsync/internal/ingest"
	"mailsync/internal/mongostore"
	"mailsync/internal/relay"
	"mailsync/internal/testwait"
)

// mongoDoc returns email id's MongoDB document, and whether it exists; an
// erased email's tombstone ({_id, version, erased: true}, no content)
// counts as no document.
func (e *env) mongoDoc(id int64) (mongostore.Document, bool) {
	e.t.Helper()
	var d mongostore.Document
	err := e.mongo.Coll().FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return d, false
	}
	require.NoError(e.t, err)
	return d, !d.Erased
}

// waitDrained waits until no outbox message is left to relay.
func (e *env) waitDrained() {
	e.t.Helper()
	testwait.Until(e.t, time.Minute, "the outbox to drain", func() bool {
		return e.count(`SELECT count(*) FROM outbox_messages WHERE processed_at IS NULL AND failed_at IS NULL`) == 0
	})
}

// waitSynced waits until email id is synced (a loaded machine may take a while).
func (e *env) waitSynced(id int64) {
	e.t.Helper()
	testwait.Until(e.t, time.Minute, fmt.Sprint("email ", id, " to be synced"), func() bool {
		return e.count(`SELECT count(*) FROM incoming_emails WHERE id = $1 AND sync_status = 'synced'`, id) == 1
	})
}

func (e *env) create(key string, body map[string]any) int64 {
	e.t.Helper()
	r := e.postEmail(key, body)
	require.Equal(e.t, http.StatusCreated, r.status, string(r.body))
	return int64(r.json(e.t)["id"].(float64))
}

func (e *env) patch(id int64, ifMatch string, body string) response {
	e.t.Helper()
	return e.do(http.MethodPatch, "/v1/emails/"+strconv.FormatInt(id, 10), "application/json", []byte(body), "If-Match", ifMatch)
}

func TestPatchNeedsCurrentVersionAndReachesMongo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true})
	id := e.create("p-1", sampleEmail(1))
	e.waitSynced(id)

	r := e.patch(id, "", `{"labels": ["urgent"]}`)
	require.Equal(t, http.StatusPreconditionRequired, r.status, string(r.body))
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	r = e.patch(id, `"2"`, `{"labels": ["urgent"]}`)
	require.Equal(t, http.StatusPreconditionFailed, r.status, string(r.body))
	require.Equal(t, http.StatusBadRequest, e.patch(id, `W/"x"`, `{"labels": ["urgent"]}`).status)
	require.Equal(t, http.StatusUnprocessableEntity, e.patch(id, `"1"`, `{}`).status)
	require.Equal(t, http.StatusUnprocessableEntity, e.patch(id, `"1"`, `{"labels": [""]}`).status)
	require.Equal(t, http.StatusNotFound, e.patch(424242, `"1"`, `{"labels": ["x"]}`).status)
	require.Equal(t, 1, e.count(`SELECT version FROM incoming_emails WHERE id = $1`, id), "refusals change nothing")

	r = e.patch(id, `"1"`, `{"mailbox": "billing", "labels": ["urgent", "invoice"]}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, `"2"`, r.header.Get("ETag"))
	body := r.json(t)
	require.EqualValues(t, 2, body["version"])
	require.Equal(t, "billing", body["mailbox"])
	require.Equal(t, []any{"urgent", "invoice"}, body["labels"])
	require.Equal(t, http.StatusPreconditionFailed, e.patch(id, `"1"`, `{"labels": []}`).status, "the old version is stale now")

	// An admin may patch any client's email; an ingest-only key of another
	// client may not (it is told the email does not exist).
	require.Equal(t, http.StatusNotFound, e.do(http.MethodPatch, "/v1/emails/"+itoa(int(id)), "application/json",
		[]byte(`{"labels": ["urgent"]}`), "If-Match", `"2"`, "Authorization", "Bearer "+tokenIngest).status)
	r = e.do(http.MethodPatch, "/v1/emails/"+itoa(int(id)), "application/json", []byte(`{"labels": ["urgent"]}`),
		"If-Match", `"2"`, "Authorization", "Bearer "+tokenAdmin)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, `"3"`, r.header.Get("ETag"))
	require.Equal(t, http.StatusForbidden, e.do(http.MethodPatch, "/v1/emails/"+itoa(int(id)), "application/json",
		[]byte(`{"labels": []}`), "If-Match", `"3"`, "Authorization", "Bearer "+tokenRead).status)

	list := e.do(http.MethodGet, "/v1/emails?label=urgent", "", nil).json(t)
	require.Len(t, list["items"], 1)
	require.Empty(t, e.do(http.MethodGet, "/v1/emails?label=invoice", "", nil).json(t)["items"])

	e.waitSynced(id)
	doc, ok := e.mongoDoc(id)
	require.True(t, ok)
	require.EqualValues(t, 3, doc.Version)
	require.Equal(t, "billing", doc.Mailbox)
	require.Equal(t, []string{"urgent"}, doc.Labels)
	var hash string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT content_hash FROM incoming_emails WHERE id = $1`, id).Scan(&hash))
	require.Equal(t, hash, doc.Content().Hash(), "the content hash covers the labels")

	audit := e.do(http.MethodGet, "/v1/audit", "", nil).json(t)["items"].([]any)
	require.Len(t, audit, 2)
	last := audit[0].(map[string]any)
	require.Equal(t, "email.patch", last["action"])
	require.Equal(t, "root", last["client_id"])
	require.Equal(t, fmt.Sprint("email:", id), last["target"])
	require.NotEmpty(t, last["request_id"])
}

// A relay that read an older version and writes it after a newer one landed
// (two relays, out of order) never moves the document back.
func TestStaleRelayWriteNeverOverwritesNewerVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	id := e.create("o-1", sampleEmail(1))
	require.Equal(t, http.StatusOK, e.patch(id, `"1"`, `{"labels": ["first"]}`).status)
	// Relay A reads the email at version 2 ...
	stale := e.readDocument(id)
	require.EqualValues(t, 2, stale.Version)
	// ... relay B delivers version 3 first ...
	require.Equal(t, http.StatusOK, e.patch(id, `"2"`, `{"labels": ["second"]}`).status)
	b := relay.New(e.pool, e.mongo, &relay.Config{BatchSize: 50, MaxRetries: 3})
	for {
		n, err := b.RunOnce(ctx, "relay-b")
		require.NoError(t, err)
		if n == 0 {
			break
		}
	}
	// ... and relay A's write of version 2 lands last.
	_, err := e.mongo.Write(ctx, []mongostore.Document{stale})
	require.NoError(t, err)
	doc, ok := e.mongoDoc(id)
	require.True(t, ok)
	require.EqualValues(t, 3, doc.Version)
	require.Equal(t, []string{"second"}, doc.Labels)
}

// readDocument builds email id's document from its current row, as a relay does.
func (e *env) readDocument(id int64) mongostore.Document {
	e.t.Helper()
	got, err := e.reader().Get(context.Background(), id)
	require.NoError(e.t, err)
	return mongostore.FromEmail(got, time.Now())
}

func (e *env) reader() *ingest.Reader { return ingest.NewReader(e.pool) }

func TestConcurrentPatchesWithThreeRelays(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	for i := range 3 {
		r := relay.New(e.pool, e.mongo, &relay.Config{Workers: 2, BatchSize: 5, MaxRetries: 10,
			BackoffBase: 20 * time.Millisecond, PollInterval: 20 * time.Millisecond, Name: fmt.Sprint("relay-", i)})
		require.NoError(t, r.Start(ctx))
		t.Cleanup(func() { require.NoError(t, r.Stop(context.Background())) })
	}
	const emails, patches = 5, 40
	ids := make([]int64, emails)
	for i := range ids {
		ids[i] = e.create(fmt.Sprint("c-", i), sampleEmail(i))
	}
	var wg sync.WaitGroup
	for p := range patches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := ids[p%emails]
			for {
				var version int64
				if err := e.pool.QueryRow(ctx, `SELECT version FROM incoming_emails WHERE id = $1`, id).Scan(&version); err != nil {
					t.Error(err)
					return
				}
				r := e.patch(id, fmt.Sprintf(`"%d"`, version), fmt.Sprintf(`{"labels": ["p%d"]}`, p))
				if r.status == http.StatusOK {
					return
				}
				if r.status != http.StatusPreconditionFailed {
					t.Errorf("patch: %d %s", r.status, r.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, emails+patches, e.count(`SELECT sum(version)::int FROM incoming_emails`), "every patch bumped a version once")
	e.waitDrained()
	for _, id := range ids {
		got, err := e.reader().Get(ctx, id)
		require.NoError(t, err)
		doc, ok := e.mongoDoc(id)
		require.True(t, ok)
		require.Equal(t, got.Version, doc.Version, "email %d", id)
		require.Equal(t, got.Labels, doc.Labels, "email %d", id)
		require.Equal(t, "synced", got.SyncStatus)
	}
}
