package ingest

import (
	"bytes"
	"context"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"

	"mailsync/internal/email"
)

// AuthConfig says which sender-authentication verdicts a raw message's
// email records. The zero value trusts no Authentication-Results header
// and verifies nothing.
type AuthConfig struct {
	// TrustedAuthservIDs are the authserv-ids (the first token of an
	// Authentication-Results header, naming the server that wrote it)
	// whose headers are believed: those of the receiving MTA. Headers of
	// any other id may have been written by the sender and are ignored.
	TrustedAuthservIDs []string
	// DKIMVerify makes the service verify the message's DKIM signatures
	// itself and record each verdict with authserv_id "mailsync".
	DKIMVerify bool
	// LookupTXT resolves DNS TXT records for DKIM keys; nil uses the
	// system resolver with DKIMTimeout per lookup.
	LookupTXT func(domain string) ([]string, error)
	// DKIMTimeout bounds each DNS lookup of the system resolver (5s).
	DKIMTimeout time.Duration
}

// maxDKIMSignatures bounds the signatures verified per message.
const maxDKIMSignatures = 5

// Apply sets c.AuthResults from the Authentication-Results headers of c
// (parsed from raw) whose authserv-id is trusted, then, with DKIMVerify,
// adds the service's own DKIM verdicts for raw. Nothing here refuses mail:
// an unreadable header is skipped, a failed verification is a verdict.
// A nil a applies nothing.
func (a *AuthConfig) Apply(c *email.Content, raw []byte) {
	if a == nil {
		return
	}
	res := &email.AuthResults{}
	if len(a.TrustedAuthservIDs) > 0 {
		// Each MTA adds its header on top: the first trusted one is the
		// newest, and its single-valued verdicts win.
		for _, v := range c.Headers["Authentication-Results"] {
			id, results, err := authres.Parse(v)
			if err != nil && len(results) == 0 || !a.trusted(id) {
				continue
			}
			addResults(res, id, results)
		}
	}
	if a.DKIMVerify {
		res.DKIM = append(res.DKIM, a.verifyDKIM(raw)...)
	}
	if !res.Empty() {
		c.AuthResults = res
	}
}

func (a *AuthConfig) trusted(id string) bool {
	for _, t := range a.TrustedAuthservIDs {
		if strings.EqualFold(strings.TrimSpace(t), id) {
			return true
		}
	}
	return false
}

// addResults adds the SPF, DKIM, DMARC and ARC results of one header
// written by id to res; a single-valued method already set is kept.
func addResults(res *email.AuthResults, id string, results []authres.Result) {
	for _, r := range results {
		switch r := r.(type) {
		case *authres.SPFResult:
			if res.SPF == nil {
				res.SPF = &email.AuthVerdict{Result: value(r.Value), AuthservID: id, Reason: r.Reason, MailFrom: r.From, Helo: r.Helo}
			}
		case *authres.DKIMResult:
			res.DKIM = append(res.DKIM, email.AuthVerdict{Result: value(r.Value), AuthservID: id, Reason: r.Reason,
				Domain: r.Domain, Identifier: r.Identifier})
		case *authres.DMARCResult:
			if res.DMARC == nil {
				res.DMARC = &email.AuthVerdict{Result: value(r.Value), AuthservID: id, Reason: r.Reason, HeaderFrom: r.From}
			}
		case *authres.ARCResult:
			if res.ARC == nil {
				res.ARC = &email.AuthVerdict{Result: value(r.Value), AuthservID: id, RemoteIP: r.RemoteIP}
			}
		}
	}
}

func value(v authres.ResultValue) string { return strings.ToLower(strings.TrimSpace(string(v))) }

// verifyDKIM verifies up to maxDKIMSignatures signatures of raw and returns
// one verdict per signature: pass, fail, temperror (a DNS failure) or
// permerror (a broken signature or key); none when the message carries no
// signature.
func (a *AuthConfig) verifyDKIM(raw []byte) []email.AuthVerdict {
	lookup := a.LookupTXT
	if lookup == nil {
		timeout := a.DKIMTimeout
		if timeout <= 0 {
			timeout = 5 * time.Second
		}
		lookup = func(domain string) ([]string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			return net.DefaultResolver.LookupTXT(ctx, domain)
		}
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: maxDKIMSignatures})
	if err != nil && len(verifs) == 0 {
		return []email.AuthVerdict{{Result: "permerror", AuthservID: email.AuthserviceMailsync, Reason: "the message could not be read for DKIM"}}
	}
	if len(verifs) == 0 {
		return []email.AuthVerdict{{Result: "none", AuthservID: email.AuthserviceMailsync}}
	}
	out := make([]email.AuthVerdict, 0, len(verifs))
	for _, v := range verifs {
		out = append(out, dkimVerdict(v))
	}
	return out
}

func dkimVerdict(v *dkim.Verification) email.AuthVerdict {
	out := email.AuthVerdict{Result: "pass", AuthservID: email.AuthserviceMailsync, Domain: v.Domain, Identifier: v.Identifier}
	switch {
	case v.Err == nil:
	case dkim.IsTempFail(v.Err):
		out.Result, out.Reason = "temperror", v.Err.Error()
	case dkim.IsPermFail(v.Err):
		out.Result, out.Reason = "permerror", v.Err.Error()
	default:
		out.Result, out.Reason = "fail", v.Err.Error()
	}
	return out
}
