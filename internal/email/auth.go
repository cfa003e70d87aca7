package email

// AuthResults are the sender-authentication verdicts of an email: those of
// the Authentication-Results headers whose authserv-id the service trusts
// (the receiving MTA's), and the service's own DKIM verdicts when it
// verifies signatures itself. A nil pointer or empty slice means no verdict.
type AuthResults struct {
	SPF   *AuthVerdict  `json:"spf,omitempty" bson:"spf,omitempty"`
	DKIM  []AuthVerdict `json:"dkim,omitempty" bson:"dkim,omitempty"`
	DMARC *AuthVerdict  `json:"dmarc,omitempty" bson:"dmarc,omitempty"`
	ARC   *AuthVerdict  `json:"arc,omitempty" bson:"arc,omitempty"`
}

// AuthVerdict is one verdict. Result is an RFC 8601 result value in lower
// case (pass, fail, softfail, neutral, none, temperror, permerror, policy,
// hardfail); AuthservID names who reached it ("mailsync" for the service's
// own DKIM check). The other fields are the method's properties, empty
// when the header did not give them.
type AuthVerdict struct {
	Result     string `json:"result" bson:"result"`
	AuthservID string `json:"authserv_id" bson:"authserv_id"`
	Reason     string `json:"reason,omitempty" bson:"reason,omitempty"`
	// Domain and Identifier are DKIM's header.d and header.i.
	Domain     string `json:"domain,omitempty" bson:"domain,omitempty"`
	Identifier string `json:"identifier,omitempty" bson:"identifier,omitempty"`
	// MailFrom and Helo are SPF's smtp.mailfrom and smtp.helo.
	MailFrom string `json:"mailfrom,omitempty" bson:"mailfrom,omitempty"`
	Helo     string `json:"helo,omitempty" bson:"helo,omitempty"`
	// HeaderFrom is DMARC's header.from.
	HeaderFrom string `json:"header_from,omitempty" bson:"header_from,omitempty"`
	// RemoteIP is ARC's smtp.remote-ip.
	RemoteIP string `json:"remote_ip,omitempty" bson:"remote_ip,omitempty"`
}

// AuthserviceMailsync is the AuthservID of the service's own verdicts.
const AuthserviceMailsync = "mailsync"

// Empty reports whether a holds no verdict.
func (a *AuthResults) Empty() bool {
	return a == nil || a.SPF == nil && len(a.DKIM) == 0 && a.DMARC == nil && a.ARC == nil
}

// AuthResultValues are the result values a verdict filter accepts.
var AuthResultValues = []string{"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy", "hardfail"}
