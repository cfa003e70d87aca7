package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mailsync/client"
	"mailsync/internal/email"
)

// sampleContent is the email every benchmark stores (about 2 KB of JSON):
// realistic sizes, a few headers, one attachment's metadata. Only the
// Message-ID varies.
func sampleContent(messageID string) email.Content {
	c := email.Content{
		MessageID: messageID, Mailbox: "support", From: "Alice Example <alice@example.com>",
		To: []string{"support@example.org"}, Cc: []string{"Bob <bob@example.com>"},
		Subject:  "Order 1234 has not arrived yet",
		TextBody: strings.Repeat("Hello, my order 1234 has not arrived yet. Could you check? ", 10),
		HTMLBody: "<html><body><p>" + strings.Repeat("Hello, my order 1234 has not arrived yet. Could you check? ", 10) + "</p></body></html>",
		Headers: map[string][]string{
			"X-Spam-Score": {"0.1"}, "X-Mailer": {"bench 1.0"},
			"Received": {"from mx1.example.com by mx2.example.org", "from client by mx1.example.com"},
		},
		Attachments: []email.Attachment{{Filename: "invoice.pdf", ContentType: "application/pdf", SizeBytes: 48213,
			SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}},
		ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
	}
	c.Normalize()
	return c
}

// sampleInput is sampleContent in the request schema.
func sampleInput(messageID string) client.EmailInput {
	c := sampleContent(messageID)
	atts := []client.Attachment{}
	for _, a := range c.Attachments {
		atts = append(atts, client.Attachment{Filename: a.Filename, ContentType: a.ContentType, SizeBytes: a.SizeBytes, Sha256: a.SHA256})
	}
	return client.EmailInput{MessageId: c.MessageID, Mailbox: &c.Mailbox, From: c.From, To: c.To, Cc: &c.Cc,
		Subject: &c.Subject, TextBody: &c.TextBody, HtmlBody: &c.HTMLBody, Headers: &c.Headers,
		Attachments: &atts, ReceivedAt: c.ReceivedAt}
}

// loadResult is what one closed-loop load run measured.
type loadResult struct {
	requests  int
	errors    int
	firstErr  error
	elapsed   time.Duration
	latencies []time.Duration // sorted
}

func (r loadResult) perSecond() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// runLoad calls do from conc goroutines in a closed loop until d has passed
// (or, when n > 0, n calls were made) and measures each call.
func runLoad(ctx context.Context, conc int, d time.Duration, n int, do func(worker, seq int) error) loadResult {
	var issued atomic.Int64
	var mu sync.Mutex
	res := loadResult{}
	var cancel context.CancelFunc
	if n > 0 {
		ctx, cancel = context.WithCancel(ctx)
	} else {
		ctx, cancel = context.WithTimeout(ctx, d)
	}
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			var lat []time.Duration
			errs := 0
			var firstErr error
			for seq := 0; ctx.Err() == nil; seq++ {
				if n > 0 && issued.Add(1) > int64(n) {
					break
				}
				t := time.Now()
				if err := do(w, seq); err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.requests = len(res.latencies)
	slices.Sort(res.latencies)
	return res
}

// poster sends new emails to one server (mailsync or the HTTP floor)
// through mailsync's Go client, as an upstream processor written in Go
// does: the client's retries (a 503 is retried after its Retry-After, 5
// attempts at most) and answer checks, over the bench's pooled
// connections (newClient).
type poster struct {
	api *client.Client
}

// newPoster returns a poster for base keeping conc connections alive.
func newPoster(base string, conc int) (poster, error) {
	c, err := client.New(&client.Config{BaseURL: base, Token: benchToken, HTTPClient: newClient(conc), Observe: countRetried})
	return poster{api: c}, err
}

// unavailableRetries counts 503 + Retry-After answers the bench retried.
var unavailableRetries atomic.Int64

// countRetried counts an attempt answered 503 + Retry-After that the client
// retries (e.g. PostgreSQL out of connections while pgbench's close).
func countRetried(a client.Attempt) {
	if a.Status == http.StatusServiceUnavailable && a.Retry && a.Header.Get("Retry-After") != "" {
		unavailableRetries.Add(1)
	}
}

// singleBody is the sample email's JSON with a placeholder Message-ID,
// encoded once: the client's cost per request is then little more than
// pgbench's, so the CPU figures measure the service.
var singleBody = sync.OnceValue(func() [2][]byte {
	b, err := json.Marshal(sampleInput("<@@@>"))
	if err != nil {
		panic(err)
	}
	head, tail, _ := bytes.Cut(b, []byte("<@@@>"))
	return [2][]byte{head, tail}
})

// single posts one new email (a fresh key and Message-ID), expects it stored and
// returns the new email's id.
func (p poster) single(tag string) (int64, error) {
	parts := singleBody()
	body := make([]byte, 0, len(parts[0])+len(parts[1])+len(tag)+24)
	body = append(append(append(append(body, parts[0]...), '<'), tag...), "@bench.example.com>"...)
	body = append(body, parts[1]...)
	got, err := p.api.IngestBody(context.Background(), tag, client.BytesBody("application/json", body), client.Envelope{})
	if err != nil {
		return 0, fmt.Errorf("POST /v1/emails: %w", err)
	}
	return got.Email.Id, nil
}

// batch posts n new emails in one request and expects every item created.
func (p poster) batch(tag string, n int) error {
	items := make([]client.BatchItem, n)
	for i := range n {
		k := fmt.Sprintf("%s-%d", tag, i)
		items[i] = client.BatchItem{IdempotencyKey: k, Email: sampleInput("<" + k + "@bench.example.com>")}
	}
	out, err := p.api.IngestBatch(context.Background(), items)
	if err != nil {
		return fmt.Errorf("POST /v1/emails/batch: %w", err)
	}
	for _, r := range out.Results {
		if r.Status != http.StatusCreated {
			return fmt.Errorf("batch item status %d", r.Status)
		}
	}
	return nil
}
