package handlers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"mailsync/internal/apperr"
	"mailsync/internal/strictjson"
)

// The checks in this file run on every operation of the API after
// authentication and before the generated code parses anything, so every
// string that can reach SQL is checked once, in one place: PostgreSQL
// refuses NUL in text and invalid UTF-8, and Go's JSON decoder would
// silently replace what is not UTF-8.

// checkParams refuses query parameters the operation does not define (a
// misspelled or misplaced option must not be silently ignored, e.g.
// ?dry_run=true on POST /v1/reconciliations) and parameter values (query
// and header) holding NUL or invalid UTF-8.
func checkParams(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := operationOf(r)
		query := r.URL.Query()
		var unknown []string
		for name, values := range query {
			if !op.query[name] {
				unknown = append(unknown, name)
				continue
			}
			for _, v := range values {
				if why := badText(v); why != "" {
					WriteError(w, r, apperr.New(apperr.Malformed, "query parameter %s %s", name, why))
					return
				}
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			for i, n := range unknown {
				unknown[i] = printable(n)
			}
			WriteError(w, r, apperr.New(apperr.Malformed, "unknown query parameter(s) %s; this operation takes none of them",
				strings.Join(unknown, ", ")))
			return
		}
		for _, name := range op.headers {
			if why := badText(r.Header.Get(name)); why != "" {
				WriteError(w, r, apperr.New(apperr.Malformed, "header %s %s", name, why))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// badText says what is wrong with a parameter value, or "".
func badText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "holds a NUL character"
	}
	return ""
}

// printable quotes s for a problem detail, cut to 64 bytes.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.ToValidUTF8(strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return '?'
		}
		return c
	}, s), "?")
}

// checkBody enforces the operation's request media types (415 otherwise)
// and, for JSON, reads the body and refuses it unless it is UTF-8 without
// NUL characters or unpaired surrogate escapes (400; 422 for NUL), so the
// decoder never replaces anything and no string reaches SQL that PostgreSQL
// would refuse, and unless every member is one the contract defines (422
// naming the unknown ones). Operations without a body ignore any that is sent; an empty
// body is left to the operation (some take an optional one).
func checkBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := operationOf(r)
		if len(op.bodyTypes) == 0 || r.Body == nil || r.Body == http.NoBody ||
			(r.ContentLength == 0 && r.Header.Get("Content-Type") == "") {
			next.ServeHTTP(w, r)
			return
		}
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || !op.bodyTypes[mt] {
			WriteError(w, r, apperr.New(apperr.Unsupported, "Content-Type must be %s", mediaTypes(op)))
			return
		}
		if mt != "application/json" {
			next.ServeHTTP(w, r)
			return
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			WriteError(w, r, apperr.New(apperr.Unsupported, "JSON bodies must be UTF-8, not %s", printable(cs)))
			return
		}
		b, err := readBody(r.Body, r.ContentLength)
		if err != nil {
			WriteError(w, r, err)
			return
		}
		if err := checkJSONText(b); err != nil {
			WriteError(w, r, err)
			return
		}
		if err := checkMembers(b, op); err != nil {
			WriteError(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		next.ServeHTTP(w, r)
	})
}

// readBody reads a request body whole. A body that declares its length
// (limitBody has bounded it) is read into one buffer of that size, up to
// 1 MiB, instead of one grown and copied as it fills.
func readBody(body io.Reader, declared int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(min(max(declared, 0), 1<<20)) + bytes.MinRead) // MinRead: room to see the end
	_, err := buf.ReadFrom(body)
	return buf.Bytes(), err
}

func mediaTypes(op *operation) string {
	types := make([]string, 0, len(op.bodyTypes))
	for t := range op.bodyTypes {
		types = append(types, t)
	}
	sort.Strings(types)
	return strings.Join(types, " or ")
}

// checkJSONText refuses JSON text that is not UTF-8, or whose strings hold
// \u0000 or a surrogate escape without its pair. Backslashes occur only in
// strings in valid JSON, so escapes can be checked without parsing.
func checkJSONText(b []byte) error {
	if !utf8.Valid(b) {
		return apperr.New(apperr.Malformed, "the body is not valid UTF-8")
	}
	for i := bytes.IndexByte(b, '\\'); i >= 0 && i+1 < len(b); {
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch c := hex4(b[i+2 : i+6]); {
			case c == 0:
				return apperr.New(apperr.Invalid, "a string in the body holds a NUL character (\\u0000)")
			case c >= 0xd800 && c <= 0xdbff:
				if i+12 > len(b) || b[i+6] != '\\' || b[i+7] != 'u' || hex4(b[i+8:i+12]) < 0xdc00 || hex4(b[i+8:i+12]) > 0xdfff {
					return apperr.New(apperr.Malformed, "a string in the body holds an unpaired UTF-16 surrogate escape")
				}
				i += 6 // the low half is checked as part of the pair
			case c >= 0xdc00 && c <= 0xdfff:
				return apperr.New(apperr.Malformed, "a string in the body holds an unpaired UTF-16 surrogate escape")
			}
		}
		next := bytes.IndexByte(b[i+2:], '\\')
		if next < 0 {
			break
		}
		i += 2 + next
	}
	return nil
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) int {
	n := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | int(c-'A'+10)
		default:
			return -1
		}
	}
	return n
}

// bodyReadError marks an error raised while reading the request body, so
// it is answered as the client's (408, 413 or 400), never as the store's.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return "read request body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

// timedOut reports whether the body read hit the server's read deadline.
func (e *bodyReadError) timedOut() bool {
	var ne net.Error
	return errors.As(e.err, &ne) && ne.Timeout()
}

type bodyReader struct{ io.ReadCloser }

func (b bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = &bodyReadError{err}
	}
	return n, err
}

// markBodyErrors wraps the request body so read failures are told apart
// from the store's.
func markBodyErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = bodyReader{r.Body}
		}
		next.ServeHTTP(w, r)
	})
}

// deadline bounds the work of a request after its body was read (pool
// acquire and statements): a store that is down or silent turns into a 503
// with Retry-After instead of a hung request. Zero leaves it unbounded.
func deadline(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if d <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// maxUnknown bounds the unknown members one problem names.
const maxUnknown = 20

// checkMembers refuses a JSON body holding members its schema does not
// allow (additionalProperties: false): an apperr Invalid naming each, in
// document order, as "subject" or "emails[3].email.subjekt". A body that is
// not well-formed JSON is left to the decoder, which says why (400).
func checkMembers(b []byte, op *operation) error {
	unknown, ok := strictjson.Unknown(b, op.jsonBody, maxUnknown)
	if !ok || len(unknown) == 0 {
		return nil
	}
	fields := make([]apperr.FieldError, len(unknown))
	for i, u := range unknown {
		unknown[i] = printable(u)
		fields[i] = apperr.FieldError{Field: unknown[i], Message: "unknown field; the contract does not define it"}
	}
	return &apperr.Error{Code: apperr.Invalid, Fields: fields,
		Message: "unknown field(s) " + strings.Join(unknown, ", ") + "; the request body may hold only the fields the contract defines"}
}
