package ingest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/stretchr/testify/require"

	"mailsync/internal/email"
)

const authMessage = "Authentication-Results: mx.example;\r\n" +
	"  dkim=pass header.d=example.com header.i=@example.com;\r\n" +
	"  spf=fail smtp.mailfrom=bounce@example.com;\r\n" +
	"  dmarc=fail header.from=example.com; arc=none\r\n" +
	"Authentication-Results: evil.example; spf=pass smtp.mailfrom=x@evil.example; dmarc=pass\r\n" +
	"Authentication-Results: relay.example; spf=pass smtp.mailfrom=older@example.com; dkim=fail header.d=other.example\r\n" +
	"Message-ID: <auth@example.com>\r\nFrom: a@example.com\r\nTo: b@example.org\r\nSubject: s\r\n\r\nhi\r\n"

func applied(t *testing.T, a *AuthConfig, raw string) *email.AuthResults {
	t.Helper()
	m, err := ParseRaw([]byte(raw), Envelope{}, testNow)
	require.NoError(t, err)
	a.Apply(&m.Content, []byte(raw))
	m.Content.Normalize()
	return m.Content.AuthResults
}

// TestAuthResultsTrustedOnly keeps the verdicts of trusted authserv-ids
// only: the topmost trusted header's SPF and DMARC, every trusted DKIM
// verdict; an untrusted header (which a sender can write) is ignored, and
// with no trusted id nothing is kept.
func TestAuthResultsTrustedOnly(t *testing.T) {
	t.Parallel()
	got := applied(t, &AuthConfig{TrustedAuthservIDs: []string{"MX.example", "relay.example"}}, authMessage)
	require.Equal(t, &email.AuthResults{
		SPF: &email.AuthVerdict{Result: "fail", AuthservID: "mx.example", MailFrom: "bounce@example.com"},
		DKIM: []email.AuthVerdict{
			{Result: "pass", AuthservID: "mx.example", Domain: "example.com", Identifier: "@example.com"},
			{Result: "fail", AuthservID: "relay.example", Domain: "other.example"},
		},
		DMARC: &email.AuthVerdict{Result: "fail", AuthservID: "mx.example", HeaderFrom: "example.com"},
		ARC:   &email.AuthVerdict{Result: "none", AuthservID: "mx.example"},
	}, got)

	got = applied(t, &AuthConfig{TrustedAuthservIDs: []string{"relay.example"}}, authMessage)
	require.Equal(t, "pass", got.SPF.Result)
	require.Equal(t, "older@example.com", got.SPF.MailFrom)
	require.Nil(t, got.DMARC)

	require.Nil(t, applied(t, &AuthConfig{}, authMessage))
	require.Nil(t, applied(t, nil, authMessage))
	require.Nil(t, applied(t, &AuthConfig{TrustedAuthservIDs: []string{"nobody.example"}}, authMessage))
	require.Nil(t, applied(t, &AuthConfig{TrustedAuthservIDs: []string{"mx.example"}},
		"Authentication-Results: mx.example 2; spf=pass\r\nFrom: a@b\r\n\r\nhi"), "an unknown version is unreadable")
}

// signed returns a message signed for example.com with a new Ed25519 key
// and the DNS TXT record of that key.
func signed(t *testing.T) (raw []byte, record string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	msg := "From: a@example.com\r\nTo: b@example.org\r\nSubject: signed\r\nMessage-ID: <s@example.com>\r\n\r\nHello, signed world.\r\n"
	var b bytes.Buffer
	require.NoError(t, dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{
		Domain: "example.com", Selector: "sel", Signer: priv, HeaderKeys: []string{"From", "To", "Subject", "Message-ID"}}))
	return b.Bytes(), "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
}

// TestAuthResultsDKIMVerify verifies signatures with an injected DNS
// lookup: a good signature passes, a changed body fails, a DNS failure is
// a temperror, an unsigned message is none; none of them refuses the mail.
func TestAuthResultsDKIMVerify(t *testing.T) {
	t.Parallel()
	raw, record := signed(t)
	lookups := 0
	a := &AuthConfig{DKIMVerify: true, LookupTXT: func(domain string) ([]string, error) {
		lookups++
		if domain != "sel._domainkey.example.com" {
			return nil, errors.New("no such domain")
		}
		return []string{record}, nil
	}}
	got := applied(t, a, string(raw))
	require.Len(t, got.DKIM, 1)
	require.Equal(t, email.AuthVerdict{Result: "pass", AuthservID: "mailsync", Domain: "example.com", Identifier: "@example.com"}, got.DKIM[0])
	require.Equal(t, 1, lookups)

	tampered := bytes.Replace(raw, []byte("Hello, signed"), []byte("Hello, forged"), 1)
	got = applied(t, a, string(tampered))
	require.Equal(t, "fail", got.DKIM[0].Result)
	require.NotEmpty(t, got.DKIM[0].Reason)

	dnsDown := &AuthConfig{DKIMVerify: true, LookupTXT: func(name string) ([]string, error) {
		return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
	}}
	require.Equal(t, "temperror", applied(t, dnsDown, string(raw)).DKIM[0].Result)
	noKey := &AuthConfig{DKIMVerify: true, LookupTXT: func(name string) ([]string, error) {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}}
	require.Equal(t, "permerror", applied(t, noKey, string(raw)).DKIM[0].Result)

	got = applied(t, a, "From: a@b\r\nTo: c@d\r\n\r\nunsigned")
	require.Equal(t, []email.AuthVerdict{{Result: "none", AuthservID: "mailsync"}}, got.DKIM)
}
