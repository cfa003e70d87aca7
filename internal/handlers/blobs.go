package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"

	"mailsync/internal/api"
	"mailsync/internal/apperr"
	"mailsync/internal/blob"
	"mailsync/internal/email"
	"mailsync/internal/ingest"
)

// GetEmailRaw streams the original message of a raw-ingested email.
func (h *Handlers) GetEmailRaw(ctx context.Context, req api.GetEmailRawRequestObject) (api.GetEmailRawResponseObject, error) {
	e, err := h.liveEmail(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	o, err := h.cfg.Blobs.Raw(ctx, e)
	if err != nil {
		return nil, err
	}
	return api.GetEmailRaw200Messagerfc822Response{Body: o.Body, ContentLength: o.Size,
		Headers: api.GetEmailRaw200ResponseHeaders{ReprDigest: o.ReprDigest()}}, nil
}

// GetEmailAttachment streams the bytes of one attachment.
func (h *Handlers) GetEmailAttachment(ctx context.Context, req api.GetEmailAttachmentRequestObject) (api.GetEmailAttachmentResponseObject, error) {
	e, err := h.liveEmail(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	i := int(req.Index)
	o, err := h.cfg.Blobs.Attachment(ctx, e, i)
	if err != nil {
		return nil, err
	}
	a := e.Attachments[i]
	return attachmentResponse{o: o, contentType: blob.ContentType(a.ContentType),
		disposition: blob.ContentDisposition(a.Filename, i)}, nil
}

// liveEmail returns email id, or an apperr NotFound, or Gone when erased.
func (h *Handlers) liveEmail(ctx context.Context, id int64) (email.Stored, error) {
	e, err := h.cfg.Reader.Get(ctx, id)
	if err != nil {
		return email.Stored{}, err
	}
	if e.Erased() {
		return email.Stored{}, apperr.New(apperr.Gone, "email %d was erased", id)
	}
	return e, nil
}

// attachmentResponse writes an attachment with its own content type (the
// generated response can only name application/octet-stream).
type attachmentResponse struct {
	o           blob.Open
	contentType string
	disposition string
}

func (r attachmentResponse) VisitGetEmailAttachmentResponse(w http.ResponseWriter) error {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	resp := api.GetEmailAttachment200ApplicationoctetStreamResponse{Body: r.o.Body, ContentLength: r.o.Size,
		Headers: api.GetEmailAttachment200ResponseHeaders{ReprDigest: r.o.ReprDigest(), ContentDisposition: r.disposition}}
	return resp.VisitGetEmailAttachmentResponse(contentTypeWriter{ResponseWriter: w, ct: r.contentType})
}

// contentTypeWriter replaces the Content-Type set before WriteHeader.
type contentTypeWriter struct {
	http.ResponseWriter
	ct string
}

func (w contentTypeWriter) WriteHeader(status int) {
	w.Header().Set("Content-Type", w.ct)
	w.ResponseWriter.WriteHeader(status)
}

// attachmentBlobs returns the blobs of the attachments sent with content,
// each checked against its declared size_bytes and sha256. Errors: an
// apperr Invalid naming the attachment whose bytes differ.
func attachmentBlobs(atts *[]api.Attachment) ([]ingest.Blob, error) {
	if atts == nil {
		return nil, nil
	}
	var out []ingest.Blob
	var bad []apperr.FieldError
	for i, a := range *atts {
		if a.Content == nil {
			continue
		}
		field := fmt.Sprintf("attachments[%d].content", i)
		data := *a.Content
		sum := sha256.Sum256(data)
		got := hex.EncodeToString(sum[:])
		switch {
		case int64(len(data)) != a.SizeBytes:
			bad = append(bad, apperr.FieldError{Field: field, Message: fmt.Sprintf(
				"attachment %d (%q) has %d bytes of content but size_bytes says %d", i, a.Filename, len(data), a.SizeBytes)})
		case got != a.Sha256:
			bad = append(bad, apperr.FieldError{Field: field, Message: fmt.Sprintf(
				"the SHA-256 of attachment %d (%q) is %s but sha256 says %s", i, a.Filename, got, a.Sha256)})
		default:
			out = append(out, ingest.Blob{Kind: ingest.BlobAttachment, SHA256: got, Data: data})
		}
	}
	if len(bad) > 0 {
		e := apperr.New(apperr.Invalid, "%s", bad[0].Message)
		e.Fields = bad
		return nil, e
	}
	return out, nil
}
