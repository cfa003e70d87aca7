package ingest

import (
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/jhillyerd/enmime/v2"
)

// addresses renders every address in the named header fields as
// "Name <addr>" or "addr". An empty group such as "undisclosed-recipients:;"
// names nobody and gives nothing; a field net/mail cannot parse is kept as
// its RFC 2047 decoded text, split at commas outside quotes and angle
// brackets.
func addresses(env *enmime.Envelope, h textproto.MIMEHeader, name string) []string {
	raw, decoded := h.Values(name), env.GetHeaderValues(name)
	var out []string
	for i, v := range raw {
		list, err := enmime.ParseAddressList(v)
		if err == nil && len(list) == 0 {
			continue // an empty group such as "undisclosed-recipients:;"
		}
		if err != nil {
			if i < len(decoded) {
				v = decoded[i]
			}
			out = append(out, splitAddresses(v)...)
			continue
		}
		for _, a := range list {
			out = append(out, formatAddress(a))
		}
	}
	return out
}

func formatAddress(a *mail.Address) string {
	name := strings.TrimSpace(a.Name)
	if name == "" {
		return a.Address
	}
	return name + " <" + a.Address + ">"
}

// splitAddresses splits s at commas that are outside double quotes and
// angle brackets, dropping empty items.
func splitAddresses(s string) []string {
	var out []string
	quoted, angle, start := false, 0, 0
	add := func(item string) {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '<' && !quoted:
			angle++
		case c == '>' && !quoted && angle > 0:
			angle--
		case c == ',' && !quoted && angle == 0:
			add(s[start:i])
			start = i + 1
		}
	}
	add(s[start:])
	return out
}

func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}
