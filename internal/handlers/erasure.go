package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"mailsync/internal/api"
	"mailsync/internal/apperr"
	"mailsync/internal/audit"
	"mailsync/internal/email"
	"mailsync/internal/erasure"
	"mailsync/internal/ingest"
	"mailsync/internal/limits"
)

// actor is who a request acts as: its API client and request id.
func actor(ctx context.Context) audit.Actor {
	return audit.Actor{ClientID: clientID(ctx), RequestID: RequestID(ctx)}
}

// PatchEmail changes mailbox and labels of one email under If-Match.
func (h *Handlers) PatchEmail(ctx context.Context, req api.PatchEmailRequestObject) (api.PatchEmailResponseObject, error) {
	if req.Params.IfMatch == nil || strings.TrimSpace(*req.Params.IfMatch) == "" {
		return nil, apperr.New(apperr.NeedsIfMatch, `send If-Match with the email's current version as an entity tag, e.g. If-Match: "3"`)
	}
	version, ok := parseETag(*req.Params.IfMatch)
	if !ok {
		return nil, apperr.New(apperr.Malformed, `If-Match must be one quoted entity tag holding the version, as ETag sends it: "3" (a bare 3 is not an entity tag)`)
	}
	if req.Body == nil {
		return nil, apperr.New(apperr.Malformed, "the request body is empty")
	}
	e, err := h.cfg.Ingest.Patch(ctx, req.Id, version, ingest.Patch{Mailbox: req.Body.Mailbox, Labels: req.Body.Labels}, actor(ctx))
	if err != nil {
		return nil, err
	}
	return api.PatchEmail200JSONResponse{Body: toAPIEmail(e), Headers: api.PatchEmail200ResponseHeaders{ETag: etag(e.Version)}}, nil
}

// parseETag reads If-Match as one strong entity tag holding a version,
// "3" (RFC 9110 §8.8.3). A bare 3 is not an entity tag and is refused, as
// are weak tags, "*" and lists: a change must name the version it is based
// on.
func parseETag(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return 0, false
	}
	digits := s[1 : len(s)-1]
	if strings.TrimLeft(digits, "0123456789") != "" || digits[0] == '0' {
		return 0, false
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	return v, err == nil && v >= 1
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// EraseEmail erases one email and answers its tombstone.
func (h *Handlers) EraseEmail(ctx context.Context, req api.EraseEmailRequestObject) (api.EraseEmailResponseObject, error) {
	reason := ""
	if req.Body != nil && req.Body.Reason != nil {
		reason = *req.Body.Reason
	}
	if msg := limits.Text(reason, limits.Reason); msg != "" {
		return nil, &apperr.Error{Code: apperr.Invalid, Message: "reason " + msg,
			Fields: []apperr.FieldError{{Field: "reason", Message: msg}}}
	}
	e, err := h.cfg.Erasure.Erase(ctx, req.Id, reason, actor(ctx))
	if err != nil {
		return nil, err
	}
	return api.EraseEmail200JSONResponse(toAPITombstone(e)), nil
}

// toAPITombstone maps an erased email to the tombstone schema.
func toAPITombstone(e email.Stored) api.EmailTombstone {
	t := api.EmailTombstone{Id: e.ID, ClientId: e.ClientID, IdempotencyKey: e.IdempotencyKey, ReceivedAt: e.ReceivedAt,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, ErasedBy: e.ErasedBy, EraseReason: e.EraseReason,
		Version: e.Version, SyncStatus: api.EmailSyncStatus(e.SyncStatus)}
	if e.ErasedAt != nil {
		t.ErasedAt = *e.ErasedAt
	}
	return t
}

// StartErasure records an erasure job (idempotent by Idempotency-Key).
func (h *Handlers) StartErasure(ctx context.Context, req api.StartErasureRequestObject) (api.StartErasureResponseObject, error) {
	key, err := parseIdempotencyKey(req.Params.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, apperr.New(apperr.Malformed, "the request body is empty")
	}
	b := *req.Body
	r := erasure.Request{Key: key, TTL: h.cfg.IdempotencyTTL,
		Criteria: erasure.Criteria{Address: b.Address, Mailbox: b.Mailbox, ReceivedBefore: b.ReceivedBefore}}
	if b.Reason != nil {
		r.Reason = *b.Reason
	}
	canon, _ := json.Marshal(b)
	r.Fingerprint = ingest.Fingerprint(http.MethodPost, "/v1/erasures", canon)
	job, replayed, err := h.cfg.Erasure.StartJob(ctx, r, actor(ctx))
	if err != nil {
		return nil, err
	}
	return api.StartErasure202JSONResponse{Body: toAPIErasure(job), Headers: api.StartErasure202ResponseHeaders{
		IdempotencyKey: req.Params.IdempotencyKey, IdempotentReplayed: replayed, Location: "/v1/erasures/" + itoa(job.ID)}}, nil
}

// ListErasures lists erasure jobs, newest first.
func (h *Handlers) ListErasures(ctx context.Context, req api.ListErasuresRequestObject) (api.ListErasuresResponseObject, error) {
	n, err := limit(req.Params.Limit)
	if err != nil {
		return nil, err
	}
	before, err := decodeCursor("x", req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	jobs, next, err := h.cfg.Erasure.Jobs(ctx, before, n)
	if err != nil {
		return nil, err
	}
	items := make([]api.Erasure, len(jobs))
	for i, j := range jobs {
		items[i] = toAPIErasure(j)
	}
	return api.ListErasures200JSONResponse{Items: items, NextCursor: encodeCursor("x", next)}, nil
}

// GetErasure returns one erasure job; an unknown id is 404.
func (h *Handlers) GetErasure(ctx context.Context, req api.GetErasureRequestObject) (api.GetErasureResponseObject, error) {
	job, err := h.cfg.Erasure.Job(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return api.GetErasure200JSONResponse(toAPIErasure(job)), nil
}

func toAPIErasure(j erasure.Job) api.Erasure {
	out := api.Erasure{Id: j.ID, RequestedBy: j.RequestedBy, Reason: j.Reason, Status: api.ErasureStatus(j.Status),
		Matched: j.Matched, Erased: j.Erased, CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, CompletedAt: j.CompletedAt,
		ErrorMessage: j.ErrorMessage, Attempts: &j.Attempts, Criteria: api.ErasureCriteria{Address: j.Criteria.Address,
			AddressHmac: j.Criteria.AddressHMAC, Mailbox: j.Criteria.Mailbox, ReceivedBefore: j.Criteria.ReceivedBefore}}
	if sc := j.Scope; sc != nil {
		out.Scope = &api.ErasureScope{ScopedAt: sc.ScopedAt, NewestEmailId: sc.NewestID, AwaitedTransactions: sc.Awaited,
			Statement: sc.Statement()}
	}
	return out
}
