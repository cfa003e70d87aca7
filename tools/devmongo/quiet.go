package main

import (
	"context"
	"log/slog"
	"strings"
)

// quietHandler drops the log records of conditions that mailsync provokes on
// purpose and that FerretDB logs as problems, and passes every other record
// to next:
//
//   - ERROR "Query" failing with SQLSTATE 23505 (unique violation): an insert
//     of a document whose _id exists. FerretDB answers it with MongoDB's
//     duplicate key error (E11000), which mailsync's relay expects: it inserts
//     first and replaces the documents that already exist (every PATCH, every
//     replay after an outage).
//   - WARN responses to endSessions: FerretDB does not implement the command,
//     which the MongoDB Go driver sends when a client disconnects (`server
//     reconcile`, every test); the driver ignores the answer.
//   - WARN "Response header" lines: FerretDB logs one before every failed
//     response, holding only sizes and ids; the "Response message" line that
//     follows names the error and is kept (unless it is one of the above).
type quietHandler struct{ next slog.Handler }

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if expected(r) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{h.next.WithAttrs(as)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.next.WithGroup(name)}
}

// expected reports whether r is one of the records quietHandler drops.
func expected(r slog.Record) bool {
	switch {
	case r.Level == slog.LevelWarn && strings.HasPrefix(r.Message, "Response header"):
		return true
	case r.Level == slog.LevelWarn && strings.HasPrefix(r.Message, "Response message") &&
		strings.Contains(r.Message, "'endSessions'"):
		return true
	case r.Level == slog.LevelError && r.Message == "Query":
		unique := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" && strings.Contains(a.Value.String(), "SQLSTATE 23505") {
				unique = true
			}
			return !unique
		})
		return unique
	}
	return false
}
