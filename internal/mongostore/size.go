package mongostore

import (
	"strconv"
	"strings"
	"time"

	"mailsync/internal/apperr"
	"mailsync/internal/email"
)

// MaxDocumentBytes is MongoDB's limit on the BSON size of one document
// (16 MiB). An email whose document would be larger can be stored in
// PostgreSQL but never replicated, so ingest refuses it.
const MaxDocumentBytes = 16 * 1024 * 1024

// clientIDReserve is counted for client_id when the content does not carry
// it yet (ingest sets it from the API key after validation).
const clientIDReserve = 256

// CheckSize returns an apperr TooLarge naming the limit when the MongoDB
// document of c would exceed MaxDocumentBytes, and nil otherwise. The size
// is computed from the Document built from c, field by field, without
// encoding it; fields set only at storage (ids, hash, timestamps) have
// fixed sizes.
func CheckSize(c email.Content) error {
	n := DocumentSize(c)
	if n <= MaxDocumentBytes {
		return nil
	}
	return apperr.New(apperr.TooLarge,
		"this email would be a MongoDB document of %d bytes, over MongoDB's limit of %d bytes (16 MiB) per document; "+
			"text_body, html_body and headers move to blobs when they are large, so the rest (addresses, attachment "+
			"metadata) must stay under it",
		n, MaxDocumentBytes)
}

// DocumentSize is the BSON size in bytes of the MongoDB document of c.
func DocumentSize(c email.Content) int {
	e := email.Stored{Content: c, ContentHash: strings.Repeat("0", 64)}
	n := bsonSize(FromEmail(e, time.Time{}))
	if c.ClientID == "" {
		n += clientIDReserve
	}
	return n
}

// bsonSize is len(bson.Marshal(d)), computed from d's fields; a test keeps
// it equal to the encoder's result.
func bsonSize(d Document) int {
	headers := 0
	for i, h := range d.Headers {
		headers += elem(i, bsonDoc(field("name", str(h.Name))+field("values", strArray(h.Values))))
	}
	atts := 0
	for i, a := range d.Attachments {
		atts += elem(i, bsonDoc(field("filename", str(a.Filename))+field("content_type", str(a.ContentType))+
			field("size_bytes", 8)+field("sha256", str(a.SHA256))))
	}
	return bsonDoc(field("_id", 8) + field("client_id", str(d.ClientID)) + field("message_id", str(d.MessageID)) +
		field("mailbox", str(d.Mailbox)) + field("from", str(d.From)) + field("to", strArray(d.To)) +
		field("cc", strArray(d.Cc)) + field("subject", str(d.Subject)) + field("text_body", str(d.TextBody)) +
		field("html_body", str(d.HTMLBody)) + field("headers", bsonDoc(headers)) +
		field("attachments", bsonDoc(atts)) + field("raw_size_bytes", 8) + field("received_at", 8) +
		field("version", 8) + field("content_hash", str(d.ContentHash)) + field("synced_at", 8) +
		field("envelope_from", str(d.EnvelopeFrom)) + field("envelope_to", strArray(d.EnvelopeTo)) +
		field("message_id_source", str(d.MessageIDSource)) + field("incomplete", 1) + labels(d.Labels) +
		omitEmpty("raw_sha256", d.RawSHA256) + omitEmpty("text_body_sha256", d.TextBodySHA256) +
		omitEmpty("html_body_sha256", d.HTMLBodySHA256) + omitEmpty("headers_sha256", d.HeadersSHA256) +
		field("parse_defects", strArray(d.ParseDefects)) + authResults(d.AuthResults))
}

// authResults is the auth_results element, which is left out when empty.
func authResults(a *email.AuthResults) int {
	if a == nil {
		return 0
	}
	verdict := func(v *email.AuthVerdict) int {
		n := field("result", str(v.Result)) + field("authserv_id", str(v.AuthservID))
		for k, s := range map[string]string{"reason": v.Reason, "domain": v.Domain, "identifier": v.Identifier,
			"mailfrom": v.MailFrom, "helo": v.Helo, "header_from": v.HeaderFrom, "remote_ip": v.RemoteIP} {
			if s != "" {
				n += field(k, str(s))
			}
		}
		return bsonDoc(n)
	}
	n := 0
	for k, v := range map[string]*email.AuthVerdict{"spf": a.SPF, "dmarc": a.DMARC, "arc": a.ARC} {
		if v != nil {
			n += field(k, verdict(v))
		}
	}
	if len(a.DKIM) > 0 {
		dkim := 0
		for i := range a.DKIM {
			dkim += elem(i, verdict(&a.DKIM[i]))
		}
		n += field("dkim", bsonDoc(dkim))
	}
	return field("auth_results", bsonDoc(n))
}

// labels is the labels element, which is left out when empty.
func labels(xs []string) int {
	if len(xs) == 0 {
		return 0
	}
	return field("labels", strArray(xs))
}

// omitEmpty is a string element that is left out when empty.
func omitEmpty(key, s string) int {
	if s == "" {
		return 0
	}
	return field(key, str(s))
}

// field is one element: type byte, key as a C string, value.
func field(key string, value int) int { return 1 + len(key) + 1 + value }

// elem is one array element: its key is the decimal index.
func elem(i, value int) int { return field(strconv.Itoa(i), value) }

// bsonDoc is a document (or array) around elements: int32 length, elements, NUL.
func bsonDoc(elements int) int { return 4 + elements + 1 }

// str is a string value: int32 length, bytes, NUL.
func str(s string) int { return 4 + len(s) + 1 }

// strArray is an array of strings; a nil slice is encoded as null.
func strArray(xs []string) int {
	if xs == nil {
		return 0
	}
	n := 0
	for i, s := range xs {
		n += elem(i, str(s))
	}
	return bsonDoc(n)
}
