package handlers

import (
	"strings"

	"mailsync/internal/apperr"
)

// parseIdempotencyKey accepts 1–255 visible ASCII characters, bare or as an
// RFC 8941 quoted string (with \" and \\ escapes), and returns the key.
func parseIdempotencyKey(raw string) (string, error) {
	v := strings.TrimSpace(raw)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var b strings.Builder
		inner := v[1 : len(v)-1]
		for i := 0; i < len(inner); i++ {
			c := inner[i]
			switch {
			case c == '\\':
				if i+1 >= len(inner) || (inner[i+1] != '"' && inner[i+1] != '\\') {
					return "", badKey("has an invalid escape in its quoted form")
				}
				i++
				b.WriteByte(inner[i])
			case c == '"':
				return "", badKey("has an unescaped quote in its quoted form")
			default:
				b.WriteByte(c)
			}
		}
		v = b.String()
	}
	if v == "" {
		return "", badKey("is empty")
	}
	if len(v) > 255 {
		return "", badKey("is longer than 255 characters")
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return "", badKey("must be visible ASCII characters only")
		}
	}
	return v, nil
}

func badKey(why string) error {
	return apperr.New(apperr.Malformed, "the Idempotency-Key header %s", why)
}
