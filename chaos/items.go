package chaos

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	apiclient "mailsync/client"
	"mailsync/internal/email"
)

var mailboxes = []string{"support", "sales", "billing"}

func (l *Load) newItem(ci int, rng *rand.Rand) *item {
	n := l.seq[ci].Add(1)
	c := email.Content{
		MessageID:  fmt.Sprintf("<%s.%d.%d@chaos.example>", l.cfg.RunID, ci, n),
		Mailbox:    mailboxes[n%3],
		From:       "Load Generator <load@chaos.example>",
		To:         []string{"support@example.org"},
		Subject:    fmt.Sprintf("chaos %s #%d", l.cfg.RunID, n),
		TextBody:   strings.Repeat(fmt.Sprintf("line %d of email %d\n", rng.IntN(1000), n), 1+rng.IntN(40)),
		HTMLBody:   fmt.Sprintf("<p>email %d</p>", n),
		Headers:    map[string][]string{"X-Chaos-Seq": {fmt.Sprint(n)}, "Received": {"from a", "from b"}},
		ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Millisecond),
	}
	if n%4 == 0 {
		c.Cc = []string{"audit@example.org"}
	}
	var content []byte
	if n%5 == 0 {
		content = attachmentBytes(l.cfg.RunID, n)
		sum := sha256.Sum256(content)
		c.Attachments = []email.Attachment{{Filename: "a.pdf", ContentType: "application/pdf", SizeBytes: int64(len(content)),
			SHA256: hex.EncodeToString(sum[:])}}
	}
	in := apiclient.EmailInput{MessageId: c.MessageID, Mailbox: &c.Mailbox, From: c.From, To: c.To, Subject: &c.Subject,
		TextBody: &c.TextBody, HtmlBody: &c.HTMLBody, Headers: &c.Headers, ReceivedAt: c.ReceivedAt}
	if c.Cc != nil {
		in.Cc = &c.Cc
	}
	if c.Attachments != nil {
		atts := []apiclient.Attachment{{Filename: "a.pdf", ContentType: "application/pdf", SizeBytes: c.Attachments[0].SizeBytes,
			Sha256: c.Attachments[0].SHA256, Content: &content}}
		in.Attachments = &atts
	}
	c.ClientID = l.cfg.Clients[ci].Name
	it := &item{client: ci, key: fmt.Sprintf("k-%d", n), input: in, expected: c.Hash(), first: time.Now()}
	l.mu.Lock()
	l.items[ident(ci, it.key)] = it
	l.mu.Unlock()
	return it
}

// attachmentBytes is the attachment of email n: its bytes are stored as a
// blob and relayed to GridFS. Every other one is the same for the whole run
// (one blob shared by many emails); the others are 1 to 64 KiB of their own.
func attachmentBytes(runID string, n int64) []byte {
	if n%10 == 0 {
		return []byte(strings.Repeat("shared attachment of run "+runID+"\n", 2000))
	}
	line := fmt.Sprintf("attachment of email %d of run %s\n", n, runID)
	return []byte(strings.Repeat(line, int(1+n%64)*1024/len(line)+1))
}

// Acks returns every acknowledgement.
func (l *Load) Acks() []*Ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Ack(nil), l.ackList...)
}

// Sent returns every (client name, key) sent, as "client\x00key".
func (l *Load) Sent() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]bool, len(l.items))
	for _, it := range l.items {
		out[l.cfg.Clients[it.client].Name+"\x00"+it.key] = true
	}
	return out
}

// LoadCounts are the load generator's figures.
type LoadCounts struct {
	Keys, Acked, Unacked                    int   // distinct keys sent, acknowledged, never acknowledged
	Requests, Retries, Singles, Batches     int64 // HTTP requests (retries included), operations
	Replayed, DupSends, DupAnswered, DupRep int64 // 2xx replays; deliberate duplicate sends, answered, replayed
	SlowestAck                              time.Duration
	Violations                              []string
}

// Counts returns the figures so far.
func (l *Load) Counts() LoadCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LoadCounts{
		Keys: len(l.items), Acked: len(l.acks), Unacked: len(l.items) - len(l.acks),
		Requests: l.requests.Load(), Retries: l.retries.Load(), Singles: l.singles.Load(), Batches: l.batches.Load(),
		Replayed: l.replayed.Load(), DupSends: l.dupSends.Load(), DupAnswered: l.dupAnswered.Load(), DupRep: l.dupReplayed.Load(),
		SlowestAck: l.slowestAck, Violations: append([]string(nil), l.violations...),
	}
}

// Outcomes renders what clients saw per fault phase.
func (l *Load) Outcomes() string { return l.out.Table() }
