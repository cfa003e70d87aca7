package client

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// ProblemError is an error answer of mailsync (application/problem+json,
// RFC 9457). Type is the problem's URI (for example
// https://mailsync.dev/problems/idempotency-in-progress); Status is the HTTP
// status. An answer without a problem body has Type "about:blank" and the
// status text as Title.
type ProblemError struct {
	Type   string
	Title  string
	Status int
	Detail string
	// Problem is the whole decoded body (field errors, instance).
	Problem Problem
}

// Error returns the status, title and detail.
func (e *ProblemError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("mailsync: %d %s", e.Status, e.Title)
	}
	return fmt.Sprintf("mailsync: %d %s: %s", e.Status, e.Title, e.Detail)
}

func problemFrom(status int, body []byte) *ProblemError {
	var p Problem
	if json.Unmarshal(body, &p) != nil || p.Title == "" {
		return &ProblemError{Type: "about:blank", Title: http.StatusText(status), Status: status}
	}
	e := &ProblemError{Type: p.Type, Title: p.Title, Status: status, Problem: p}
	if p.Detail != nil {
		e.Detail = *p.Detail
	}
	return e
}
