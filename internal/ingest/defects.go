package ingest

import "slices"

// The parse defect codes: what ParseRaw could not read as the standards
// say and how it read it instead. The codes are stable (clients filter on
// them); docs/parsing.md and api/openapi.yaml describe each one.
const (
	// DefectHeaderLineMalformed: a header line is not a "Name: value" field
	// (no colon, an invalid name, a continuation line before the first
	// field); it was joined to the field before it or dropped.
	DefectHeaderLineMalformed = "header_line_malformed"
	// DefectHeader8bit: a header holds raw 8-bit bytes that are not UTF-8;
	// they were decoded through the declared charset, else as Latin-1.
	DefectHeader8bit = "header_8bit"
	// DefectNULBytes: a header or text part holds NUL bytes; they were
	// removed from the stored text.
	DefectNULBytes = "nul_bytes"
	// DefectContentTypeInvalid: a Content-Type could not be parsed or has a
	// malformed parameter; the part was read as text/plain.
	DefectContentTypeInvalid = "content_type_invalid"
	// DefectContentDispositionInvalid: a Content-Disposition could not be
	// parsed; it was ignored.
	DefectContentDispositionInvalid = "content_disposition_invalid"
	// DefectMultipartNoBoundaryParam: a multipart Content-Type has no
	// boundary parameter; its body was read as text.
	DefectMultipartNoBoundaryParam = "multipart_no_boundary_param"
	// DefectMultipartBoundaryMissing: a multipart section is not closed by
	// its final boundary, or its boundary never appears (then its body was
	// read as text).
	DefectMultipartBoundaryMissing = "multipart_boundary_missing"
	// DefectPartHeaderMalformed: a part's header block could not be read
	// (for example a part with no header and no blank line); the part was
	// read as text.
	DefectPartHeaderMalformed = "part_header_malformed"
	// DefectMIMEStructureInvalid: the MIME structure could not be split at
	// all; the whole body was read as text.
	DefectMIMEStructureInvalid = "mime_structure_invalid"
	// DefectTransferEncodingInvalid: a part's Content-Transfer-Encoding is
	// unknown or its base64 or quoted-printable data is corrupt; what could
	// be decoded was kept.
	DefectTransferEncodingInvalid = "transfer_encoding_invalid"
	// DefectCharsetInvalid: a text part's charset is unknown or its bytes
	// are not valid in it; invalid bytes were decoded as Latin-1.
	DefectCharsetInvalid = "charset_invalid"
	// DefectPartsTruncated: the message has more MIME parts or multipart
	// sections than are split out (see MaxParts and MaxMultipartSections);
	// the rest is kept only in the raw message.
	DefectPartsTruncated = "parts_truncated"
	// DefectFieldTruncated: a field is longer than the service stores (a
	// header-derived field over 998 characters, a subject over 10,000, more
	// than 1,000 header names or addresses); it was shortened.
	DefectFieldTruncated = "field_truncated"
	// DefectMessageIDTooLong: the Message-ID is longer than the service
	// stores (998 characters or 2,000 bytes); a generated one was stored
	// instead (message_id_source "generated").
	DefectMessageIDTooLong = "message_id_too_long"
)

// DefectCodes lists every parse defect code, in the order documented.
var DefectCodes = []string{
	DefectHeaderLineMalformed, DefectHeader8bit, DefectNULBytes, DefectContentTypeInvalid,
	DefectContentDispositionInvalid, DefectMultipartNoBoundaryParam, DefectMultipartBoundaryMissing,
	DefectPartHeaderMalformed, DefectMIMEStructureInvalid, DefectTransferEncodingInvalid,
	DefectCharsetInvalid, DefectPartsTruncated, DefectFieldTruncated, DefectMessageIDTooLong,
}

// defects collects the defect codes of one message, each once.
type defects map[string]bool

func (d defects) add(code string) { d[code] = true }

// list returns the codes in the order of DefectCodes.
func (d defects) list() []string {
	out := make([]string, 0, len(d))
	for _, code := range DefectCodes {
		if d[code] {
			out = append(out, code)
		}
	}
	return slices.Clip(out)
}
