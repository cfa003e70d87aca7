package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"mailsync/internal/api"
	"mailsync/internal/apperr"
	"mailsync/internal/auth"
	"mailsync/internal/email"
	"mailsync/internal/ingest"
	"mailsync/internal/mongostore"
)

// CreateEmail stores one email (JSON or raw RFC 5322) under its Idempotency-Key.
func (h *Handlers) CreateEmail(ctx context.Context, req api.CreateEmailRequestObject) (api.CreateEmailResponseObject, error) {
	key, err := parseIdempotencyKey(req.Params.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	var item ingest.Item
	switch {
	case req.JSONBody != nil:
		if err := refuseEnvelopeHeaders(req.Params); err != nil {
			return nil, err
		}
		c := contentFromInput(*req.JSONBody)
		if err := c.Validate(); err != nil {
			return nil, err
		}
		item = ingest.NewItem(clientID(ctx), key, c)
		if item.Blobs, err = attachmentBlobs(req.JSONBody.Attachments); err != nil {
			return nil, err
		}
	case req.Body != nil:
		raw, err := ingest.ReadBody(req.Body)
		if err != nil {
			return nil, err // *http.MaxBytesError → 413
		}
		if item, err = ingest.NewRawItem(raw, envelopeOf(req.Params), h.cfg.Now(), h.cfg.Auth); err != nil {
			return nil, err
		}
	default:
		return nil, apperr.New(apperr.Unsupported, "send application/json or message/rfc822")
	}
	if err := mongostore.CheckSize(item.Content); err != nil { // 413: MongoDB could never hold it
		return nil, err
	}
	item.Key = key
	result, err := h.cfg.Ingest.IngestOne(ctx, clientID(ctx), item)
	if err != nil {
		return nil, err
	}
	return createResponse{key: req.Params.IdempotencyKey, r: result}, nil
}

// createResponse writes an ingest result: the cached bytes on a replay.
type createResponse struct {
	key string
	r   ingest.Result
}

func (c createResponse) VisitCreateEmailResponse(w http.ResponseWriter) error {
	if c.r.Err != nil {
		e := apperr.As(c.r.Err)
		status, p := Problem(e)
		w.Header().Set("Idempotency-Key", c.key)
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		return encodeJSON(w, p)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Idempotency-Key", c.key)
	if c.r.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	} else {
		w.Header().Set("Idempotent-Replayed", "false")
	}
	if c.r.Status == http.StatusCreated {
		w.Header().Set("Location", "/v1/emails/"+itoa(c.r.ID))
	}
	w.WriteHeader(c.r.Status)
	_, err := w.Write(c.r.Body)
	return err
}

// CreateEmailBatch stores up to 500 emails in one transaction, with a result
// per item; an invalid item fails alone.
func (h *Handlers) CreateEmailBatch(ctx context.Context, req api.CreateEmailBatchRequestObject) (api.CreateEmailBatchResponseObject, error) {
	if req.Body == nil || len(req.Body.Emails) == 0 {
		return nil, apperr.New(apperr.Invalid, "emails must hold 1 to 500 items")
	}
	if len(req.Body.Emails) > 500 {
		return nil, apperr.New(apperr.Invalid, "emails holds %d items; at most 500 are allowed", len(req.Body.Emails))
	}
	results := make([]batchResult, len(req.Body.Emails))
	var items []ingest.Item
	var index []int
	seen := map[string]bool{}
	client := clientID(ctx)
	for i, in := range req.Body.Emails {
		results[i].IdempotencyKey = in.IdempotencyKey
		key, err := parseIdempotencyKey(in.IdempotencyKey)
		if err == nil && seen[key] {
			err = apperr.New(apperr.Invalid, "idempotency_key %q appears more than once in this batch", key)
		}
		c := contentFromInput(in.Email)
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			err = mongostore.CheckSize(c)
		}
		var blobs []ingest.Blob
		if err == nil {
			blobs, err = attachmentBlobs(in.Email.Attachments)
		}
		if err != nil {
			setBatchError(&results[i], err)
			continue
		}
		seen[key] = true
		it := ingest.NewItem(client, key, c)
		it.Blobs = blobs
		items = append(items, it)
		index = append(index, i)
	}
	if len(items) > 0 {
		out, err := h.cfg.Ingest.Ingest(ctx, client, items)
		if err != nil {
			return nil, err
		}
		for j, r := range out {
			res := &results[index[j]]
			if r.Err != nil {
				setBatchError(res, r.Err)
				continue
			}
			res.Status, res.Email, res.Replayed = int32(r.Status), json.RawMessage(r.Body), ptr(r.Replayed)
		}
	}
	return batchResponse{Results: results}, nil
}

func setBatchError(res *batchResult, err error) {
	status, p := Problem(apperr.As(err))
	res.Status, res.Error = int32(status), &p
}

// GetEmail returns one stored email with its version as the ETag.
func (h *Handlers) GetEmail(ctx context.Context, req api.GetEmailRequestObject) (api.GetEmailResponseObject, error) {
	e, err := h.cfg.Reader.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	if e.Erased() {
		return api.GetEmail410JSONResponse(toAPITombstone(e)), nil
	}
	return api.GetEmail200JSONResponse{Body: toAPIEmail(e), Headers: api.GetEmail200ResponseHeaders{ETag: etag(e.Version)}}, nil
}

// ListEmails lists stored emails, newest first, with filters and a cursor.
func (h *Handlers) ListEmails(ctx context.Context, req api.ListEmailsRequestObject) (api.ListEmailsResponseObject, error) {
	p := req.Params
	n, err := limit(p.Limit)
	if err != nil {
		return nil, err
	}
	before, err := decodeCursor("e", p.Cursor)
	if err != nil {
		return nil, err
	}
	f := ingest.Filter{Mailbox: p.Mailbox, MessageID: p.MessageId, IdempotencyKey: p.IdempotencyKey, Label: p.Label,
		Incomplete: p.Incomplete, ParseDefects: p.ParseDefects, ReceivedAfter: p.ReceivedAfter, ReceivedBefore: p.ReceivedBefore, BeforeID: before, Limit: n}
	if p.SyncStatus != nil {
		s := string(*p.SyncStatus)
		if s != email.StatusPending && s != email.StatusSynced && s != email.StatusFailed && s != email.StatusNotApplicable {
			return nil, apperr.New(apperr.Malformed, "sync_status must be pending, synced, failed or not_applicable")
		}
		f.SyncStatus = &s
	}
	if f.SPF, err = verdictFilter("spf", p.Spf); err != nil {
		return nil, err
	}
	if f.DKIM, err = verdictFilter("dkim", p.Dkim); err != nil {
		return nil, err
	}
	if f.DMARC, err = verdictFilter("dmarc", p.Dmarc); err != nil {
		return nil, err
	}
	if p.MessageId != nil {
		m := strings.TrimSpace(*p.MessageId)
		f.MessageID = &m
	}
	emails, next, err := h.cfg.Reader.List(ctx, f)
	if err != nil {
		return nil, err
	}
	items := make([]api.Email, len(emails))
	for i, e := range emails {
		items[i] = toAPIEmail(e)
	}
	return api.ListEmails200JSONResponse{Items: items, NextCursor: encodeCursor("e", next)}, nil
}

func clientID(ctx context.Context) string {
	if c := auth.FromContext(ctx); c != nil {
		return c.Name
	}
	return auth.Anonymous.Name
}
