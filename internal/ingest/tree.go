package ingest

import (
	"bytes"
	"mime"
	"strings"

	"github.com/jhillyerd/enmime/v2"
	"github.com/jhillyerd/enmime/v2/mediatype"
)

// Parsing limits. enmime stacks one byte-by-byte boundary reader per nesting
// level, so its cost is the message size times the depth for closed
// sections, 2^depth times the boundary length for sections that are never
// closed, and it links each new part after walking its siblings. These
// bounds keep parsing linear in the message size without refusing mail:
// what lies beyond them stays in the raw message, unsplit, and the email
// carries the parts_truncated defect.
const (
	// MaxPartLines is the number of lines beginning with "--" (every MIME
	// delimiter is one) up to which a multipart message is split into
	// parts; the parser does not read past the next such line. It bounds
	// the parts of a message to about a thousand.
	MaxPartLines = 1000
	// MaxMultipartSections caps the multipart sections split; later or
	// deeper sections are kept whole in the raw message.
	MaxMultipartSections = 10
	// maxBoundaryLen caps a multipart boundary (RFC 2046 allows 70); a
	// longer one makes the Content-Type invalid.
	maxBoundaryLen = 200
	// maxPartErrors bounds the problems enmime records per part.
	maxPartErrors = 20
)

// tree is a message read into MIME parts.
type tree struct {
	root    *enmime.Part
	charset string // the charset the top-level Content-Type declares
	text    string
	html    string
	parts   []Part
	lazy    map[*enmime.Part]Bytes // attachments decoded on demand, by leaf
	elided  int                    // bodies kept out of the MIME library
}

// readTree splits message b (whose header block starts with a field) into
// parts and collects its text, HTML and attachments, recording defects in
// d. Splitting is tried as the standards say, then with a blank line
// after delimiters that a part header does not follow, and finally the
// whole body is read as text; only a header block that cannot be read at
// all fails, with an apperr.Malformed error. Big bodies are kept out of
// the MIME library when that gives the same result (see elide): those
// of at least min bytes.
func readTree(b []byte, d defects, min int) (*tree, error) {
	h, err := readRootHeader(b, defects{})
	if err != nil {
		return nil, err
	}
	mt, params, _, _ := mediatype.Parse(h.Get("Content-Type"))
	charset := params["charset"]
	in, cut := b, false
	if strings.HasPrefix(mt, "multipart/") {
		in, cut = cutAtLine(b, MaxPartLines)
	}
	if skel, els := elide(in, min); els != nil {
		tried := defects{}
		if t, err := splitTree(b, skel, charset, cut, tried, els); err == nil && t != nil {
			t.elided = len(els)
			for code := range tried {
				d.add(code)
			}
			return t, nil
		}
	}
	t, err := splitTree(b, in, charset, cut, d, nil)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// splitTree reads the parts of in (b, or its first MaxPartLines lines) with
// the MIME library and collects the tree. With els, in is a skeleton: the
// tree is nil (and nothing collected) when the elided bodies cannot be put
// back as enmime would have read them.
func splitTree(b, in []byte, charset string, cut bool, d defects, els []elision) (*tree, error) {
	g := &guard{}
	root, err := readParts(in, g, false)
	if err != nil && len(g.boundaries) > 0 {
		d.add(DefectPartHeaderMalformed)
		g2 := &guard{}
		root, err = readParts(separateHeaderless(in, g.boundaries), g2, true)
		g = g2
	}
	if err != nil {
		if els != nil {
			return nil, nil
		}
		d.add(DefectMIMEStructureInvalid)
		hdr, err := readRootHeader(b, d)
		if err != nil {
			return nil, err
		}
		t := &tree{root: enmime.NewPart(""), charset: charset}
		t.root.Header = hdr
		t.text = string(bodyOf(b))
		return t, nil
	}
	t := &tree{root: root, charset: charset}
	if els != nil && !t.resolve(els, d) {
		return nil, nil
	}
	if cut || g.truncated {
		d.add(DefectPartsTruncated)
	}
	if g.tooLong {
		d.add(DefectContentTypeInvalid)
	}
	t.collect(d, cut)
	if root.FirstChild == nil && strings.HasPrefix(root.ContentType, "multipart/") && root.Boundary != "" {
		// A multipart whose boundary never appears: its body is its text.
		d.add(DefectMultipartBoundaryMissing)
		t.text = string(bodyOf(b))
	}
	return t, nil
}

// readParts runs enmime over b under the limits of g; skip drops parts
// whose header cannot be read instead of failing.
func readParts(b []byte, g *guard, skip bool) (*enmime.Part, error) {
	p := enmime.NewParser(
		enmime.DisableTextConversion(true),     // text_body stays what the sender wrote
		enmime.DisableCharacterDetection(true), // a declared charset is used as declared
		enmime.MultipartWOBoundaryAsSinglePart(true),
		enmime.SkipMalformedParts(skip),
		enmime.MaxStoredPartErrors(maxPartErrors),
		enmime.SetReadPartErrorPolicy(func(*enmime.Part, error) bool { return true }),
		enmime.SetCustomParseMediaType(g.parseMediaType),
	)
	root, err := p.ReadParts(bytes.NewReader(b))
	g.done = true
	return root, err
}

// guard is the media type parser given to enmime: it never fails (an
// unreadable Content-Type gives no type, which is read as text/plain, and
// an unreadable Content-Disposition is ignored), and it enforces the
// multipart limits by dropping the boundary of sections past them, which
// keeps those sections whole.
type guard struct {
	parses     int
	done       bool // the tree is read; later parses are not checked
	truncated  bool // a section was kept whole for MaxMultipartSections
	tooLong    bool // a boundary was longer than maxBoundaryLen
	boundaries []string
}

// parseMediaType parses like enmime's default. enmime parses a multipart
// Content-Type twice per section while reading the tree, hence the 2x.
func (g *guard) parseMediaType(ctype string) (string, map[string]string, []string, error) {
	mtype, params, invalid, err := mediatype.Parse(ctype)
	if err != nil {
		mtype, params, invalid = fallbackMediaType(ctype)
	}
	if b := params["boundary"]; b != "" && !g.done && strings.HasPrefix(mtype, "multipart/") {
		g.parses++
		switch {
		case len(b) > maxBoundaryLen:
			g.tooLong = true
			params = without(params, "boundary")
		case g.parses > 2*MaxMultipartSections:
			g.truncated = true
			params = without(params, "boundary")
		case len(g.boundaries) < MaxMultipartSections && !contains(g.boundaries, b):
			g.boundaries = append(g.boundaries, b)
		}
	}
	return mtype, params, invalid, nil
}

// fallbackMediaType reads what it can of a media type enmime could not
// parse: the type itself when only a parameter is broken, else nothing.
func fallbackMediaType(ctype string) (string, map[string]string, []string) {
	mtype, _, err := mime.ParseMediaType(ctype)
	if err == mime.ErrInvalidMediaParameter {
		return mtype, map[string]string{}, nil
	}
	return "", map[string]string{}, nil
}

func without(params map[string]string, key string) map[string]string {
	out := make(map[string]string, len(params))
	for k, v := range params {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
