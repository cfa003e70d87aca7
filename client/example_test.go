package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"mailsync/client"
)

// Example stores one raw message, as an MTA hands it over, with the key
// derived from its bytes, and reads it back. It needs a running mailsync
// (MAILSYNC_URL, MAILSYNC_TOKEN with scopes ingest and read).
func Example() {
	c, err := client.New(&client.Config{BaseURL: os.Getenv("MAILSYNC_URL"), Token: os.Getenv("MAILSYNC_TOKEN")})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg := "Message-ID: <1@example.com>\r\nFrom: alice@example.com\r\nTo: support@example.org\r\n\r\nHello\r\n"
	stored, err := c.IngestRaw(ctx, "", strings.NewReader(msg), client.Envelope{
		From: "alice@example.com", To: []string{"support@example.org"}, Mailbox: "support",
	})
	var problem *client.ProblemError
	switch {
	case errors.As(err, &problem):
		log.Fatalf("refused (%s): %s", problem.Type, problem.Detail) // 4xx: do not retry
	case err != nil:
		log.Fatal(err) // mailsync unreachable until the deadline: retry later
	}
	email, err := c.GetEmail(ctx, stored.Email.Id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(email.MessageId, email.SyncStatus, stored.Replay)
}
