package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"mailsync/internal/blob"
	"mailsync/internal/db/dbtest"
	"mailsync/internal/email"
)

// bigMessage is a raw message of about 29 MB: a short text, a 20 MB
// attachment in base64 and a 2 MB CSV sent 8bit.
func bigMessage(t testing.TB) (raw, pdf, csv []byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	pdf = make([]byte, 20_000_000)
	for i := range pdf {
		pdf[i] = byte(rng.Uint32())
	}
	csv = bytes.Repeat([]byte("2026-12-01,invoice,1234.50,EUR\r\n"), 2_000_000/32)
	var b bytes.Buffer
	b.WriteString("From: a@example.com\r\nTo: b@example.org\r\nSubject: big\r\nMessage-ID: <big@example.com>\r\n" +
		"Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n" +
		"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe export and the scan.\r\n" +
		"--B\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(pdf)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--B\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=\"x.csv\"\r\n\r\n")
	b.Write(csv)
	b.WriteString("\r\n--B--\r\n")
	return b.Bytes(), pdf, csv
}

// allocated returns the bytes the process allocated while fn ran.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestBigRawMessageIsHeldOnce parses a 29 MB message with a 20 MB base64
// attachment and a 2 MB 8bit CSV: the parse allocates less than a tenth of
// the message (the MIME library reading the whole message allocated
// several times its size: each part decoded, its buffers grown by
// copying). It then stores the email, and the attachments' blobs read back
// from PostgreSQL byte for byte. Not parallel: the allocation count is the
// process's.
func TestBigRawMessageIsHeldOnce(t *testing.T) {
	raw, pdf, csv := bigMessage(t)
	var item Item
	var err error
	n := allocated(func() { item, err = NewRawItem(raw, Envelope{}, testNow, nil) })
	require.NoError(t, err)
	t.Logf("parsing %d bytes allocated %d bytes", len(raw), n)
	require.Less(t, n, uint64(len(raw)/10), "parsing the big message copied its parts")
	require.Len(t, item.Content.Attachments, 2)
	require.Empty(t, item.Content.ParseDefects)

	pool, _ := dbtest.New(t)
	svc := NewService(pool, &Config{Render: func(e email.Stored) ([]byte, error) { return []byte(fmt.Sprint(e.ID)), nil }})
	ctx := context.Background()
	item.Key = "big"
	res, err := svc.IngestOne(ctx, "c", item)
	require.NoError(t, err)
	require.NoError(t, res.Err)
	stored, err := NewReader(pool).Get(ctx, res.ID)
	require.NoError(t, err)
	r := blob.NewReader(pool)
	for i, want := range [][]byte{pdf, csv} {
		o, err := r.Attachment(ctx, stored, i)
		require.NoError(t, err)
		h := sha256.New()
		size, err := io.Copy(h, o.Body)
		require.NoError(t, err)
		sum := sha256.Sum256(want)
		require.Equal(t, hex.EncodeToString(sum[:]), hex.EncodeToString(h.Sum(nil)), "attachment %d", i)
		require.EqualValues(t, len(want), size)
	}
	o, err := r.Raw(ctx, stored)
	require.NoError(t, err)
	got, err := io.ReadAll(o.Body)
	require.NoError(t, err)
	require.Equal(t, raw, got)
}

type sized struct {
	io.Reader
	n int64
}

func (s sized) DeclaredSize() int64 { return s.n }

// TestReadBodyReadsOnce reads a 10 MB body whose length is declared into
// one buffer (io.ReadAll allocates about three times the body, growing its
// buffer by copying), and a body longer or shorter than declared whole.
func TestReadBodyReadsOnce(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 1_000_000)
	var got []byte
	var err error
	n := allocated(func() { got, err = ReadBody(sized{bytes.NewReader(body), int64(len(body))}) })
	require.NoError(t, err)
	require.Equal(t, body, got)
	require.Less(t, n, uint64(len(body)+len(body)/10), "the body was copied while read")
	for _, declared := range []int64{10, int64(len(body)) * 2} {
		got, err = ReadBody(sized{bytes.NewReader(body), declared})
		require.NoError(t, err)
		require.Equal(t, body, got)
	}
}
