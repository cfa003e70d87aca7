package blob

import (
	"fmt"
	"mime"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ContentType returns ct when it is a well-formed media type and
// application/octet-stream otherwise, so a sender's broken header never
// reaches a client as the type of a download.
func ContentType(ct string) string {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(mt, "/") {
		return "application/octet-stream"
	}
	return mime.FormatMediaType(mt, params)
}

// ContentDisposition returns an "attachment" Content-Disposition for a file
// the sender named name: path components and control characters are
// removed, an ASCII filename is always given (non-ASCII characters become
// '_'), and a name that is not plain ASCII is also given in UTF-8 as
// filename* (RFC 6266, RFC 8187). An empty name becomes attachment-<index>.
func ContentDisposition(name string, index int) string {
	name = strings.ToValidUTF8(name, "_")
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base("/" + name)
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "" || name == "/" || name == "." || name == ".." {
		name = "attachment-" + strconv.Itoa(index)
	}
	if utf8.RuneCountInString(name) > 200 {
		name = string([]rune(name)[:200])
	}
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' {
			return '_'
		}
		return r
	}, name)
	v := `attachment; filename="` + ascii + `"`
	if ascii != name {
		v += "; filename*=UTF-8''" + extValue(name)
	}
	return v
}

// extValue percent-encodes s as an RFC 8187 value: every byte that is not
// an attr-char becomes %XX.
func extValue(s string) string {
	const attr = "!#$&+-.^_`|~"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || strings.IndexByte(attr, c) >= 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
