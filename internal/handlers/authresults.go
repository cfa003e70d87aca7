package handlers

import (
	"slices"

	"mailsync/internal/api"
	"mailsync/internal/apperr"
	"mailsync/internal/email"
)

// toAPIAuthResults maps an email's verdicts to the response schema; no
// verdict at all is {}.
func toAPIAuthResults(a *email.AuthResults) api.AuthResults {
	var out api.AuthResults
	if a == nil {
		return out
	}
	out.Spf, out.Dmarc, out.Arc = toAPIVerdict(a.SPF), toAPIVerdict(a.DMARC), toAPIVerdict(a.ARC)
	if len(a.DKIM) > 0 {
		dkim := make([]api.AuthVerdict, len(a.DKIM))
		for i := range a.DKIM {
			dkim[i] = *toAPIVerdict(&a.DKIM[i])
		}
		out.Dkim = &dkim
	}
	return out
}

func toAPIVerdict(v *email.AuthVerdict) *api.AuthVerdict {
	if v == nil {
		return nil
	}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return &api.AuthVerdict{Result: api.AuthResultValue(v.Result), AuthservId: v.AuthservID, Reason: opt(v.Reason),
		Domain: opt(v.Domain), Identifier: opt(v.Identifier), Mailfrom: opt(v.MailFrom), Helo: opt(v.Helo),
		HeaderFrom: opt(v.HeaderFrom), RemoteIp: opt(v.RemoteIP)}
}

// verdictFilter checks the value of the spf, dkim or dmarc list filter.
func verdictFilter(name string, v *api.AuthResultValue) (*string, error) {
	if v == nil {
		return nil, nil
	}
	s := string(*v)
	if !slices.Contains(email.AuthResultValues, s) {
		return nil, apperr.New(apperr.Malformed, "%s must be one of pass, fail, softfail, neutral, none, temperror, permerror, policy or hardfail", name)
	}
	return &s, nil
}
