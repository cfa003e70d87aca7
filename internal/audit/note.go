package audit

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// checkpointOrigin is the first line of every checkpoint note.
const checkpointOrigin = "mailsync audit checkpoint"

// Statement is what a checkpoint states: the chain's head when it was
// signed.
type Statement struct {
	Seq  int64
	Hash []byte
	At   time.Time
}

// text is the note's body:
//
//	mailsync audit checkpoint
//	<seq>
//	<hash, standard base64>
//	<time, RFC 3339 UTC>
func (s Statement) text() string {
	return fmt.Sprintf("%s\n%d\n%s\n%s\n", checkpointOrigin, s.Seq, base64.StdEncoding.EncodeToString(s.Hash),
		s.At.UTC().Format(time.RFC3339Nano))
}

// SignStatement returns s as a note signed by signer (the text to store
// and to copy off the host).
func SignStatement(s Statement, signer note.Signer) (string, error) {
	b, err := note.Sign(&note.Note{Text: s.text()}, signer)
	if err != nil {
		return "", fmt.Errorf("sign checkpoint: %w", err)
	}
	return string(b), nil
}

// OpenCheckpoint verifies the signature of a checkpoint note with one of
// verifiers and returns what it states. It fails when the note is not
// signed by a known key, a signature does not verify, or the text is not
// a checkpoint.
func OpenCheckpoint(text []byte, verifiers note.Verifiers) (Statement, error) {
	n, err := note.Open(text, verifiers)
	if err != nil {
		return Statement{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	return parseStatement(n.Text)
}

func parseStatement(text string) (Statement, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 4 || lines[0] != checkpointOrigin {
		return Statement{}, fmt.Errorf("not a mailsync audit checkpoint")
	}
	seq, err1 := strconv.ParseInt(lines[1], 10, 64)
	hash, err2 := base64.StdEncoding.DecodeString(lines[2])
	at, err3 := time.Parse(time.RFC3339Nano, lines[3])
	if err1 != nil || err2 != nil || err3 != nil || seq < 0 || len(hash) != HashSize {
		return Statement{}, fmt.Errorf("malformed mailsync audit checkpoint")
	}
	return Statement{Seq: seq, Hash: hash, At: at}, nil
}

// Equal reports whether s and o state the same head.
func (s Statement) Equal(o Statement) bool { return s.Seq == o.Seq && bytes.Equal(s.Hash, o.Hash) }
