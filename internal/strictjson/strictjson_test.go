package strictjson_test

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"mailsync/internal/strictjson"
)

const spec = `
openapi: 3.0.3
info: {title: t, version: "1"}
paths: {}
components:
  schemas:
    Batch:
      type: object
      additionalProperties: false
      properties:
        emails:
          type: array
          items: {$ref: '#/components/schemas/Item'}
    Item:
      type: object
      additionalProperties: false
      properties:
        key: {type: string}
        email: {$ref: '#/components/schemas/Email'}
    Email:
      type: object
      additionalProperties: false
      properties:
        subject: {type: string}
        headers:
          type: object
          additionalProperties: {type: array, items: {type: string}}
        extra:
          type: object
`

func batchSchema(t *testing.T) *openapi3.Schema {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData([]byte(spec))
	require.NoError(t, err)
	require.NoError(t, doc.Validate(t.Context()))
	return doc.Components.Schemas["Batch"].Value
}

func TestUnknownNamesEveryMemberTheSchemaRefuses(t *testing.T) {
	s := batchSchema(t)
	for doc, want := range map[string][]string{
		`{}`:            nil,
		`{"emails":[]}`: nil,
		` {"emails" : [ {"key":"a","email":{"subject":"x","headers":{"Any-Name":["v"]},"extra":{"free":1}}} ] } `: nil,
		`{"emial":[]}`:              {"emial"},
		`{"emails":[{},{"kye":1}]}`: {"emails[1].kye"},
		`{"emails":[{"email":{"subjekt":"x","to":[1,{"a":2}]}}],"x":null}`: {"emails[0].email.subjekt", "emails[0].email.to", "x"},
		`{"sub\u006aect":1}`: {"subject"},
		`{"a\"b":"x\"}\\"}`:  {`a"b`},
	} {
		got, ok := strictjson.Unknown([]byte(doc), s, 50)
		require.True(t, ok, doc)
		require.Equal(t, want, got, doc)
	}
	got, ok := strictjson.Unknown([]byte(`{"a":1,"b":2,"c":3}`), s, 2)
	require.True(t, ok)
	require.Equal(t, []string{"a", "b"}, got, "at most max paths")
	got, ok = strictjson.Unknown([]byte(`{"a":1}`), nil, 50)
	require.True(t, ok)
	require.Empty(t, got, "a nil schema allows everything")
}

// TestUnknownAgreesWithTheDecoderOnSyntax: a document the JSON decoder
// refuses is reported as not well-formed (ok false), and one it accepts is
// scanned to the end.
func TestUnknownAgreesWithTheDecoderOnSyntax(t *testing.T) {
	s := batchSchema(t)
	for _, doc := range []string{
		`{"emails":[]}`, `[1, 2.5e3, -0, true, false, null, "x"]`, `"s"`, `12`, `{"a":{"b":{"c":[[],{}]}}}`,
		``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `{"a":1}}`, `{"a":1} x`, `{"a" 1}`, `"abc`, `{"a":"\"}`,
		`[1 2]`, `{,}`, `{"a":1 "b":2}`, `[`, `]`, `{"a":[}`,
		`{"a":"\\x"}`, `{"a":"\\u12"}`, `{"a":"\\u12g4"}`, "{\"a\":\"\\n\t\"}", `{"a":"\\u0041\\/\\b"}`, `{"\\q":1}`,
	} {
		var v any
		want := json.Unmarshal([]byte(doc), &v) == nil
		_, ok := strictjson.Unknown([]byte(doc), s, 50)
		require.Equal(t, want, ok, "%q", doc)
	}
}

// TestUnknownBoundsNesting: each level of nesting cost the scanner a frame
// and a copy of the path so far, so a body of 100,000 "[" (200 kB) made the
// server allocate 15 GB and a 25 MB one would have exhausted the stack. A
// document nested deeper than MaxDepth is not scanned (ok false: the
// decoder says what is wrong with it), and scanning one costs little.
// (Failed before: ok was true, and 20,000 levels allocated 600 MB.)
func TestUnknownBoundsNesting(t *testing.T) {
	s := batchSchema(t)
	deep := func(n int) []byte { return []byte(strings.Repeat("[", n) + strings.Repeat("]", n)) }
	const maxDepth = 256 // strictjson.MaxDepth
	_, ok := strictjson.Unknown(deep(maxDepth), s, 50)
	require.True(t, ok, "MaxDepth levels are scanned")
	_, ok = strictjson.Unknown(deep(maxDepth+1), s, 50)
	require.False(t, ok, "one level more is not")

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, ok = strictjson.Unknown(deep(20000), s, 50)
	runtime.ReadMemStats(&after)
	require.False(t, ok)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(10<<20), "bytes allocated scanning 20,000 levels")
}

// TestUnknownAllocatesOnceForAnAllowedDocument: the check runs on every
// JSON request body, so a body without unknown members costs one pass over
// its bytes and one allocation (its path stack): no string is copied, and
// paths are spelled only for refused members.
func TestUnknownAllocatesOnceForAnAllowedDocument(t *testing.T) {
	s := batchSchema(t)
	doc := []byte(`{"emails":[{"key":"a","email":{"subject":"x\\u00e9\\n","headers":{"Any-Name":["v","w"]},"extra":{"free":[1,{"x":2}]}}},` +
		`{"key":"b","email":{"subject":"y"}}]}`)
	allocs := testing.AllocsPerRun(100, func() {
		if got, ok := strictjson.Unknown(doc, s, 50); !ok || len(got) != 0 {
			t.Fatalf("Unknown = %v, %v", got, ok)
		}
	})
	require.LessOrEqual(t, allocs, 1.0)
}
