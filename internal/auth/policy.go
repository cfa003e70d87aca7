package auth

// Access to the operations of the API is decided here, once, for every
// operation: a Rule per operation (read from the contract's x-required-scope
// and x-owner-scope) and a client's scopes give a Decision. The HTTP layer
// applies it before it reads the request's parameters or body.
//
// The emails a key may read are every email with the read or admin scope,
// and its own client's emails with the ingest scope. For an email a key may
// not read, every answer is 404, the same as for an email that does not
// exist; a 403 depends only on the key and the operation, never on a
// resource, so neither tells a key anything about an email it may not read.

// Rule says who may call one operation.
type Rule struct {
	// Scope admits a key holding it to every resource of the operation;
	// "" means the operation is open (no key needed).
	Scope string
	// OwnerScope, when set, admits a key holding it (but not Scope) to the
	// emails of its own client only: the operation acts on the email named
	// by its path, and any other email answers 404.
	OwnerScope string
}

// Decision is what a Rule decides for a client.
type Decision int

// The decisions.
const (
	// Forbid: the key may never call the operation (403).
	Forbid Decision = iota
	// Allow: the key may call the operation on every resource.
	Allow
	// AllowOwn: the key may call the operation on its own client's email
	// only; any other email (or none) answers 404.
	AllowOwn
)

// implied lists the scopes each scope grants besides itself: an admin key
// may read everything it may change.
var implied = map[string][]string{ScopeAdmin: {ScopeRead}}

// Decide returns the decision of r for c (nil: no key). An open operation
// allows everyone; otherwise a nil client is forbidden (the caller answers
// 401 before asking).
func (r Rule) Decide(c *Client) Decision {
	switch {
	case r.Scope == "":
		return Allow
	case c.Grants(r.Scope):
		return Allow
	case r.OwnerScope != "" && c.Grants(r.OwnerScope):
		return AllowOwn
	}
	return Forbid
}

// Grants reports whether c holds scope or a scope that implies it (admin
// implies read).
func (c *Client) Grants(scope string) bool {
	if c.Has(scope) {
		return true
	}
	for s, grants := range implied {
		for _, g := range grants {
			if g == scope && c.Has(s) {
				return true
			}
		}
	}
	return false
}
