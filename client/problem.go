package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// ProblemTypePrefix starts the type of every problem document of mailsync.
const ProblemTypePrefix = "urn:mailsync:problem:"

// ProblemError is an error answer (4xx or 5xx), normally mailsync's
// application/problem+json (RFC 9457). Type is the problem's URI (for
// example urn:mailsync:problem:conflict); Status is the HTTP status. An
// answer without a problem body has Type "about:blank" and the status text
// as Title.
type ProblemError struct {
	Type   string
	Title  string
	Status int
	Detail string
	// Problem is the whole decoded body (field errors, instance).
	Problem Problem
	// Header and Body are the answer as received (the body's first 64 KiB).
	Header http.Header
	Body   []byte
}

// Error returns the status, title and detail.
func (e *ProblemError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("mailsync: %d %s", e.Status, e.Title)
	}
	return fmt.Sprintf("mailsync: %d %s: %s", e.Status, e.Title, e.Detail)
}

// FromMailsync reports whether the answer is one of mailsync's problem
// documents: application/problem+json whose type starts with
// ProblemTypePrefix. A proxy's error page or another service's problem is
// not.
func (e *ProblemError) FromMailsync() bool {
	return MediaType(e.Header) == "application/problem+json" && strings.HasPrefix(e.Type, ProblemTypePrefix)
}

func problemFrom(a *answer) *ProblemError {
	var p Problem
	if json.Unmarshal(a.body, &p) != nil || p.Title == "" {
		return &ProblemError{Type: "about:blank", Title: http.StatusText(a.status), Status: a.status, Header: a.header, Body: a.body}
	}
	e := &ProblemError{Type: p.Type, Title: p.Title, Status: a.status, Problem: p, Header: a.header, Body: a.body}
	if p.Detail != nil {
		e.Detail = *p.Detail
	}
	return e
}
