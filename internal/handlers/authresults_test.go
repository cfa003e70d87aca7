package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"mailsync/internal/email"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore"
)

// TestAuthResultsInAPIAndMongo posts a message whose trusted MTA says
// dkim=pass and spf=fail: the verdicts are in the API, in the list filters
// (?dmarc=fail, ?spf=fail, ?dkim=pass) and in the MongoDB document, whose
// own fields hash to the email's hash. A header of an untrusted
// authserv-id is ignored, and a message without trusted verdicts has {}.
func TestAuthResultsInAPIAndMongo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{relay: true, auth: &ingest.AuthConfig{TrustedAuthservIDs: []string{"mx.example"}}})
	msg := "Authentication-Results: mx.example; dkim=pass header.d=example.com; spf=fail smtp.mailfrom=bounce@example.com; dmarc=fail header.from=example.com\r\n" +
		"Authentication-Results: forged.example; spf=pass; dmarc=pass\r\n" +
		"Message-ID: <ar@example.com>\r\nFrom: a@example.com\r\nTo: b@example.org\r\nSubject: verdicts\r\n\r\nhi\r\n"
	r := e.postRaw("ar-1", []byte(msg))
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	var got struct {
		ID          int64             `json:"id"`
		AuthResults email.AuthResults `json:"auth_results"`
	}
	require.NoError(t, json.Unmarshal(r.body, &got))
	want := email.AuthResults{
		SPF:   &email.AuthVerdict{Result: "fail", AuthservID: "mx.example", MailFrom: "bounce@example.com"},
		DKIM:  []email.AuthVerdict{{Result: "pass", AuthservID: "mx.example", Domain: "example.com"}},
		DMARC: &email.AuthVerdict{Result: "fail", AuthservID: "mx.example", HeaderFrom: "example.com"},
	}
	require.Equal(t, want, got.AuthResults)

	untrusted := "Authentication-Results: forged.example; spf=pass; dkim=pass header.d=example.com; dmarc=pass\r\n" +
		"Message-ID: <ar2@example.com>\r\nFrom: a@example.com\r\nTo: b@example.org\r\n\r\nhi\r\n"
	r = e.postRaw("ar-2", []byte(untrusted))
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	other := r.json(t)
	require.Equal(t, map[string]any{}, other["auth_results"])

	ids := func(query string) []int64 {
		r := e.do(http.MethodGet, "/v1/emails?"+query, "", nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var page struct{ Items []struct{ ID int64 } }
		require.NoError(t, json.Unmarshal(r.body, &page))
		var out []int64
		for _, it := range page.Items {
			out = append(out, it.ID)
		}
		return out
	}
	require.Equal(t, []int64{got.ID}, ids("dmarc=fail"))
	require.Equal(t, []int64{got.ID}, ids("spf=fail"))
	require.Equal(t, []int64{got.ID}, ids("dkim=pass"))
	require.Empty(t, ids("dmarc=pass"))
	require.Empty(t, ids("spf=pass"))
	bad := e.do(http.MethodGet, "/v1/emails?dmarc=great", "", nil)
	require.Equal(t, http.StatusBadRequest, bad.status, string(bad.body))

	e.waitStatus(itoa(int(got.ID)), "synced")
	var doc mongostore.Document
	require.NoError(t, e.mongo.Coll().FindOne(context.Background(), bson.D{{Key: "_id", Value: got.ID}}).Decode(&doc))
	require.Equal(t, &want, doc.AuthResults)
	var hash string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT content_hash FROM incoming_emails WHERE id = $1`, got.ID).Scan(&hash))
	require.Equal(t, hash, doc.Content().Hash())
	// The verdicts are queryable in MongoDB by their paths.
	n, err := e.mongo.Coll().CountDocuments(context.Background(), bson.D{{Key: "auth_results.dmarc.result", Value: "fail"}})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}
