package audit

import (
	"crypto/sha256"
	"encoding/binary"

	"mailsync/internal/db"
)

// HashSize is the size of every hash of the chain (SHA-256).
const HashSize = sha256.Size

// hashTag starts every row's hashed bytes; it names the encoding.
const hashTag = "mailsync-audit-v1"

// ZeroHash is the previous hash of the chain's first row.
var ZeroHash = make([]byte, HashSize)

// DetailsHash is the SHA-256 of an event's details as PostgreSQL's
// canonical jsonb text (what `details::text` returns).
func DetailsHash(detailsText string) []byte {
	h := sha256.Sum256([]byte(detailsText))
	return h[:]
}

// EventHash is the hash of row e chained after prev: SHA-256 over the tag
// "mailsync-audit-v1", prev, the sequence and the time in microseconds
// since 1970 (8 bytes each, big-endian), client_id, action, target and
// request_id each preceded by its length in bytes (8 bytes, big-endian),
// and the details hash. It is the same computation as the database's
// audit_event_hash function, done apart from the database.
func EventHash(prev []byte, e db.ChainedAuditEvent) []byte {
	b := make([]byte, 0, 160+len(e.ClientID)+len(e.Action)+len(e.Target)+len(e.RequestID))
	b = append(b, hashTag...)
	b = append(b, prev...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(e.At.UnixMicro()))
	for _, s := range []string{e.ClientID, e.Action, e.Target, e.RequestID} {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = append(b, e.DetailsHash...)
	h := sha256.Sum256(b)
	return h[:]
}
