// Package strictjson finds the members of a JSON document that its OpenAPI
// schema does not allow: members of an object whose schema says
// additionalProperties: false and does not name them. It makes the contract's
// "additionalProperties: false" hold on the way in, so a misspelled option
// is refused instead of silently ignored.
//
// The document is scanned once, without building it in memory: only the
// object keys are looked at, so a large body costs one pass over its bytes.
package strictjson

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Unknown returns the paths of the members of doc that schema does not
// allow, in document order and at most max of them, in the notation of
// problem field errors: "subject", "emails[3].email.subjekt". ok is false
// when doc is not well-formed JSON or nests values deeper than MaxDepth
// (the caller's decoder then says why); the paths found before are not
// returned then. A nil schema allows everything.
//
// A document whose members are all allowed costs one allocation (the path
// stack, up to 16 levels deep): keys are looked up as they stand in doc,
// strings are not copied, and a path is spelled out only for a member that
// is refused.
func Unknown(doc []byte, schema *openapi3.Schema, max int) (paths []string, ok bool) {
	s := scanner{b: doc, max: max, path: make([]step, 0, 16)}
	s.value(schema)
	s.space()
	if s.bad || s.i != len(s.b) {
		return nil, false
	}
	return s.unknown, true
}

// MaxDepth bounds the nesting of the documents Unknown scans: no request
// of the contract nests deeper than a few levels, and each level costs the
// scanner stack (a 25 MB body of "[" would have cost gigabytes).
const MaxDepth = 256

type scanner struct {
	b       []byte
	i       int
	depth   int
	bad     bool
	max     int
	unknown []string
	path    []step // to the value being scanned
}

// step is one step of a path: a member name (as it stands in the
// document, escapes and all) or an array index.
type step struct {
	key     []byte // nil for an array element
	escaped bool   // key holds an escape
	index   int
}

// spell spells the path: "emails[3].email.subjekt".
func (s *scanner) spell() string {
	var b strings.Builder
	for _, p := range s.path {
		switch {
		case p.key == nil:
			b.WriteString("[" + strconv.Itoa(p.index) + "]")
			continue
		case b.Len() > 0:
			b.WriteByte('.')
		}
		if p.escaped {
			b.WriteString(unquote(p.key))
		} else {
			b.Write(p.key)
		}
	}
	return b.String()
}

// unquote decodes the contents of a string holding escapes; str has
// checked them.
func unquote(raw []byte) string {
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	var v string
	_ = json.Unmarshal(q, &v)
	return v
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// value scans one JSON value described by schema (nil: anything) at s.path.
func (s *scanner) value(schema *openapi3.Schema) {
	s.space()
	if s.bad || s.i >= len(s.b) || s.depth >= MaxDepth {
		s.bad = true
		return
	}
	s.depth++
	switch s.b[s.i] {
	case '{':
		s.object(schema)
	case '[':
		s.array(schema)
	case '"':
		s.str()
	default:
		s.scalar()
	}
	s.depth--
}

func (s *scanner) object(schema *openapi3.Schema) {
	s.i++ // {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return
	}
	for !s.bad {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			s.bad = true
			return
		}
		key, escaped := s.str()
		s.space()
		if s.bad || s.i >= len(s.b) || s.b[s.i] != ':' {
			s.bad = true
			return
		}
		s.i++
		s.path = append(s.path, step{key: key, escaped: escaped})
		var child *openapi3.Schema
		var allowed bool
		if escaped {
			child, allowed = member(schema, []byte(unquote(key)))
		} else {
			child, allowed = member(schema, key)
		}
		if !allowed && len(s.unknown) < s.max {
			s.unknown = append(s.unknown, s.spell())
		}
		s.value(child)
		s.path = s.path[:len(s.path)-1]
		s.space()
		if s.bad || s.i >= len(s.b) {
			s.bad = true
			return
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return
		default:
			s.bad = true
		}
	}
}

// member returns the schema of member key of an object described by schema
// and whether the member is allowed.
func member(schema *openapi3.Schema, key []byte) (*openapi3.Schema, bool) {
	if schema == nil {
		return nil, true
	}
	if p := schema.Properties[string(key)]; p != nil {
		return p.Value, true
	}
	ap := schema.AdditionalProperties
	if ap.Schema != nil {
		return ap.Schema.Value, true
	}
	return nil, ap.Has == nil || *ap.Has
}

func (s *scanner) array(schema *openapi3.Schema) {
	s.i++ // [
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return
	}
	var items *openapi3.Schema
	if schema != nil && schema.Items != nil {
		items = schema.Items.Value
	}
	for n := 0; !s.bad; n++ {
		s.path = append(s.path, step{index: n})
		s.value(items)
		s.path = s.path[:len(s.path)-1]
		s.space()
		if s.bad || s.i >= len(s.b) {
			s.bad = true
			return
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return
		default:
			s.bad = true
		}
	}
}

// str scans a string and returns its contents as they stand in the
// document, and whether they hold an escape. A string holding an escape
// must be one encoding/json decodes (valid escapes, no control
// characters); one without is left to the decoder.
func (s *scanner) str() (raw []byte, escaped bool) {
	s.i++ // "
	start, control := s.i, false
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '\\':
			escaped = true
			if !validEscape(s.b[s.i+1:]) {
				s.bad = true
			}
			s.i += 2
			continue
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			if escaped && control {
				s.bad = true
			}
			return raw, escaped
		case c < 0x20:
			control = true
		}
		s.i++
	}
	s.bad = true
	return nil, false
}

// validEscape reports whether b, what follows a backslash, starts with a
// JSON escape.
func validEscape(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	switch b[0] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return true
	case 'u':
		if len(b) < 5 {
			return false
		}
		for _, c := range b[1:5] {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
		return true
	}
	return false
}

// scalar skips a number, true, false or null; the decoder checks its form.
func (s *scanner) scalar() {
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', ']', '}', ' ', '\t', '\r', '\n':
			if s.i == start {
				s.bad = true
			}
			return
		case '{', '[', '"', ':':
			s.bad = true
			return
		}
		s.i++
	}
	if s.i == start {
		s.bad = true
	}
}
