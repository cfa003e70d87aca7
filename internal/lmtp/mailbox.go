package lmtp

import (
	"fmt"
	"strings"
)

// mailboxRules maps an envelope recipient to the mailbox its email is
// stored in. It is read from LMTP_MAILBOX: a comma-separated list whose
// entries are "address=mailbox" (that recipient), "@domain=mailbox" (every
// recipient of the domain) or a bare "mailbox" (every other recipient).
// Addresses and domains match without regard to case, and an address also
// matches its subaddresses ("help@x" matches "help+urgent@x"). No match and
// no bare entry: no mailbox.
type mailboxRules struct {
	address  map[string]string
	domain   map[string]string
	fallback string
}

// parseMailboxRules reads LMTP_MAILBOX. It returns an error naming the
// entry that is not one of the three forms.
func parseMailboxRules(s string) (mailboxRules, error) {
	r := mailboxRules{address: map[string]string{}, domain: map[string]string{}}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		pattern, box, ok := strings.Cut(entry, "=")
		pattern, box = strings.ToLower(strings.TrimSpace(pattern)), strings.TrimSpace(box)
		switch {
		case !ok:
			if r.fallback != "" {
				return r, fmt.Errorf("LMTP_MAILBOX has two default mailboxes, %q and %q", r.fallback, entry)
			}
			r.fallback = entry
		case box == "" || strings.Contains(box, "="):
			return r, fmt.Errorf("LMTP_MAILBOX entry %q: the mailbox after = is missing or holds '='", entry)
		case strings.HasPrefix(pattern, "@") && len(pattern) > 1 && !strings.Contains(pattern[1:], "@"):
			r.domain[pattern[1:]] = box
		case strings.Count(pattern, "@") == 1 && !strings.HasPrefix(pattern, "@") && !strings.HasSuffix(pattern, "@"):
			r.address[pattern] = box
		default:
			return r, fmt.Errorf("LMTP_MAILBOX entry %q: use address=mailbox, @domain=mailbox or a bare mailbox", entry)
		}
	}
	return r, nil
}

// mailbox returns the mailbox of recipient rcpt ("" when no rule applies).
func (r mailboxRules) mailbox(rcpt string) string {
	a := strings.ToLower(strings.TrimSpace(rcpt))
	if box, ok := r.address[a]; ok {
		return box
	}
	local, domain, found := strings.Cut(a, "@")
	if base, _, plus := strings.Cut(local, "+"); plus && found {
		if box, ok := r.address[base+"@"+domain]; ok {
			return box
		}
	}
	if box, ok := r.domain[domain]; ok && found {
		return box
	}
	return r.fallback
}
