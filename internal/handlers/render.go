package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"

	"mailsync/internal/api"
)

// batchResult is api.BatchResult with the email as the cached response
// bytes, written as they are instead of decoded and encoded again.
type batchResult struct {
	Email          json.RawMessage `json:"email,omitempty"`
	Error          *api.Problem    `json:"error,omitempty"`
	IdempotencyKey string          `json:"idempotency_key"`
	Replayed       *bool           `json:"replayed,omitempty"`
	Status         int32           `json:"status"`
}

// batchResponse is the 200 answer of POST /v1/emails/batch (api.BatchResponse).
type batchResponse struct {
	Results []batchResult `json:"results"`
}

func (b batchResponse) VisitCreateEmailBatchResponse(w http.ResponseWriter) error {
	var buf bytes.Buffer
	if err := encodeJSON(&buf, b); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := buf.WriteTo(w)
	return err
}
