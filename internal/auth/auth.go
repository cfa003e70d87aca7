// Package auth checks API keys: bearer tokens named and scoped by API_KEYS.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"
)

// The scopes a key may hold.
const (
	ScopeIngest = "ingest"
	ScopeRead   = "read"
	ScopeAdmin  = "admin"
)

// Client is an authenticated API client. Name is the client_id that scopes
// idempotency keys and is stored on every email the client sends.
type Client struct {
	Name   string
	scopes map[string]bool
}

// Has reports whether the client holds scope.
func (c *Client) Has(scope string) bool { return c != nil && c.scopes[scope] }

type key struct {
	hash   [32]byte
	client *Client
}

// Keys is the set of configured API keys. Tokens are kept only as SHA-256
// hashes and compared in constant time.
type Keys struct{ keys []key }

// ParseKeys parses API_KEYS: comma-separated name:token:scope+scope entries.
// It returns an error naming the bad entry (never echoing its token).
func ParseKeys(spec string) (*Keys, error) {
	ks := &Keys{}
	seen := map[string]bool{}
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		parts := strings.Split(entry, ":")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return nil, fmt.Errorf("API_KEYS entry %d: want name:token:scope+scope", i+1)
		}
		if len(parts[1]) < 16 {
			return nil, fmt.Errorf("API_KEYS entry %d (%s): token shorter than 16 characters", i+1, parts[0])
		}
		c := &Client{Name: parts[0], scopes: map[string]bool{}}
		for _, s := range strings.Split(parts[2], "+") {
			if s != ScopeIngest && s != ScopeRead && s != ScopeAdmin {
				return nil, fmt.Errorf("API_KEYS entry %d (%s): unknown scope %q", i+1, parts[0], s)
			}
			c.scopes[s] = true
		}
		h := sha256.Sum256([]byte(parts[1]))
		if seen[string(h[:])] {
			return nil, fmt.Errorf("API_KEYS entry %d (%s): duplicate token", i+1, parts[0])
		}
		seen[string(h[:])] = true
		ks.keys = append(ks.keys, key{hash: h, client: c})
	}
	return ks, nil
}

// Len returns the number of keys.
func (k *Keys) Len() int { return len(k.keys) }

// Lookup returns the client whose token is token, or nil. Every key is
// compared, in constant time, so timing tells nothing about which matched.
func (k *Keys) Lookup(token string) *Client {
	h := sha256.Sum256([]byte(token))
	var found *Client
	for _, key := range k.keys {
		if subtle.ConstantTimeCompare(h[:], key.hash[:]) == 1 {
			found = key.client
		}
	}
	return found
}

// Anonymous is the client used when authentication is disabled: every scope,
// client_id "anonymous".
var Anonymous = &Client{Name: "anonymous", scopes: map[string]bool{ScopeIngest: true, ScopeRead: true, ScopeAdmin: true}}

type ctxKey struct{}

// WithClient returns ctx carrying c.
func WithClient(ctx context.Context, c *Client) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the client of the request, or nil.
func FromContext(ctx context.Context) *Client {
	c, _ := ctx.Value(ctxKey{}).(*Client)
	return c
}
