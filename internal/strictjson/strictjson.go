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

	"github.com/getkin/kin-openapi/openapi3"
)

// Unknown returns the paths of the members of doc that schema does not
// allow, in document order and at most max of them, in the notation of
// problem field errors: "subject", "emails[3].email.subjekt". ok is false
// when doc is not well-formed JSON or nests values deeper than MaxDepth
// (the caller's decoder then says why); the paths found before are not
// returned then. A nil schema allows everything.
func Unknown(doc []byte, schema *openapi3.Schema, max int) (paths []string, ok bool) {
	s := scanner{b: doc, max: max}
	s.value(schema, "")
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

// value scans one JSON value described by schema (nil: anything) at path.
func (s *scanner) value(schema *openapi3.Schema, path string) {
	s.space()
	if s.bad || s.i >= len(s.b) || s.depth >= MaxDepth {
		s.bad = true
		return
	}
	s.depth++
	defer func() { s.depth-- }()
	switch s.b[s.i] {
	case '{':
		s.object(schema, path)
	case '[':
		s.array(schema, path)
	case '"':
		s.str()
	default:
		s.scalar()
	}
}

func (s *scanner) object(schema *openapi3.Schema, path string) {
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
		key := s.str()
		s.space()
		if s.bad || s.i >= len(s.b) || s.b[s.i] != ':' {
			s.bad = true
			return
		}
		s.i++
		child, allowed := member(schema, key)
		name := key
		if path != "" {
			name = path + "." + key
		}
		if !allowed && len(s.unknown) < s.max {
			s.unknown = append(s.unknown, name)
		}
		s.value(child, name)
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
func member(schema *openapi3.Schema, key string) (*openapi3.Schema, bool) {
	if schema == nil {
		return nil, true
	}
	if p := schema.Properties[key]; p != nil {
		return p.Value, true
	}
	ap := schema.AdditionalProperties
	if ap.Schema != nil {
		return ap.Schema.Value, true
	}
	return nil, ap.Has == nil || *ap.Has
}

func (s *scanner) array(schema *openapi3.Schema, path string) {
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
		s.value(items, path+"["+strconv.Itoa(n)+"]")
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

// str scans a string and returns its value (decoded only when it holds an
// escape).
func (s *scanner) str() string {
	start := s.i
	s.i++ // "
	escaped := false
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			escaped = true
			s.i += 2
			continue
		case '"':
			s.i++
			raw := s.b[start:s.i]
			if !escaped {
				return string(raw[1 : len(raw)-1])
			}
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				s.bad = true
			}
			return v
		}
		s.i++
	}
	s.bad = true
	return ""
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
