package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"mailsync/internal/deliver"
)

// deliverUsage is the synopsis of `server deliver`.
const deliverUsage = "usage: server deliver [-f sender] [-t recipient]... [-m mailbox] [-deadline 30s] < message"

// deliverCmd is `server deliver`, run by an MTA's pipe transport: it posts
// the message on stdin to MAILSYNC_URL with MAILSYNC_TOKEN (or the token in
// the file MAILSYNC_TOKEN_FILE), writes exactly one line naming the outcome
// to stderr, and returns the sysexits(3) code the MTA acts on. With -h it
// prints its usage to stdout and returns 0.
func deliverCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg, err := deliverConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, deliverHelp())
		return deliver.ExitOK
	}
	r := deliver.Result{Code: deliver.ExitConfig}
	if err != nil {
		r.Message = "configuration: " + err.Error()
	} else {
		r = deliver.Run(ctx, cfg, stdin)
	}
	fmt.Fprintln(stderr, "mailsync deliver: "+strings.ReplaceAll(r.Message, "\n", " "))
	return r.Code
}

// deliverFlags declares the flags of `server deliver` on a new flag set.
func deliverFlags() (fs *flag.FlagSet, from, mailbox *string, to *recipients, deadline *time.Duration) {
	fs = flag.NewFlagSet("deliver", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the one stderr line is written by deliverCmd
	to = &recipients{}
	from = fs.String("f", "", "envelope sender (empty or <> for a bounce)")
	fs.Var(to, "t", "envelope recipient (repeatable; may hold several, comma-separated)")
	mailbox = fs.String("m", "", "mailbox to store the email in")
	deadline = fs.Duration("deadline", 30*time.Second, "give up (exit 75) after this long, retries included")
	return fs, from, mailbox, to, deadline
}

// deliverHelp is the text of `server deliver -h`: the synopsis, the flags,
// the environment and the exit codes.
func deliverHelp() string {
	var b strings.Builder
	fs, _, _, _, _ := deliverFlags()
	fs.SetOutput(&b)
	b.WriteString(deliverUsage + "\n\nDelivers one message from an MTA's pipe transport to mailsync.\n\nFlags:\n")
	fs.PrintDefaults()
	b.WriteString(`
Environment:
  MAILSYNC_URL         mailsync's base URL, e.g. http://127.0.0.1:8080 (required)
  MAILSYNC_TOKEN       an API key with scope ingest (or MAILSYNC_TOKEN_FILE: a file holding it)
  MAX_BODY_BYTES       the largest message read from stdin (default 52428800)

Exit codes: 0 stored (or stored before), 75 try again later, 65 message refused,
77 token refused, 78 configuration error. One line on stderr names the outcome.
`)
	return b.String()
}

// deliverConfig reads the flags and the environment of `server deliver`. It
// returns flag.ErrHelp for -h, and otherwise an error naming every missing
// or bad setting at once.
func deliverConfig(args []string, getenv func(string) string) (deliver.Config, error) {
	fs, from, mailbox, to, deadline := deliverFlags()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return deliver.Config{}, err
		}
		return deliver.Config{}, fmt.Errorf("%v; %s", err, deliverUsage)
	}
	if fs.NArg() > 0 {
		return deliver.Config{}, fmt.Errorf("unexpected arguments %q; %s", fs.Args(), deliverUsage)
	}
	var problems []string
	if *deadline <= 0 {
		problems = append(problems, "-deadline must be positive, like 30s")
	}
	for _, v := range append([]string{*from, *mailbox}, (*to)...) {
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			problems = append(problems, fmt.Sprintf("flag value %q holds a control character", v))
		}
	}
	if _, err := deliver.EndpointURL(getenv("MAILSYNC_URL")); err != nil {
		problems = append(problems, err.Error())
	}
	token, err := deliverToken(getenv)
	if err != nil {
		problems = append(problems, err.Error())
	}
	maxBytes := int64(52428800)
	if v := getenv("MAX_BODY_BYTES"); v != "" {
		if maxBytes, err = strconv.ParseInt(v, 10, 64); err != nil || maxBytes < 1 {
			problems = append(problems, fmt.Sprintf("MAX_BODY_BYTES=%q is not a positive integer", v))
		}
	}
	if len(problems) > 0 {
		return deliver.Config{}, errors.New(strings.Join(problems, "; "))
	}
	return deliver.Config{URL: getenv("MAILSYNC_URL"), Token: token, From: *from, To: *to, Mailbox: *mailbox,
		Deadline: *deadline, MaxBytes: maxBytes}, nil
}

// deliverToken returns MAILSYNC_TOKEN, or the first line of the file named
// by MAILSYNC_TOKEN_FILE (which keeps the token out of argv and master.cf).
func deliverToken(getenv func(string) string) (string, error) {
	if t := getenv("MAILSYNC_TOKEN"); t != "" {
		return strings.TrimSpace(t), nil
	}
	path := getenv("MAILSYNC_TOKEN_FILE")
	if path == "" {
		return "", errors.New("MAILSYNC_TOKEN (or MAILSYNC_TOKEN_FILE) is not set")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("MAILSYNC_TOKEN_FILE: %v", err)
	}
	t, _, _ := strings.Cut(string(b), "\n")
	if t = strings.TrimSpace(t); t == "" {
		return "", fmt.Errorf("MAILSYNC_TOKEN_FILE %s is empty", path)
	}
	return t, nil
}

// recipients is a repeatable -t flag.
type recipients []string

func (r *recipients) String() string { return strings.Join(*r, ",") }

// Set adds the recipients of one -t flag, split at commas.
func (r *recipients) Set(v string) error {
	for _, a := range strings.Split(v, ",") {
		if a = strings.TrimSpace(a); a != "" {
			*r = append(*r, a)
		}
	}
	return nil
}
