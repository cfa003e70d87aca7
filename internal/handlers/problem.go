package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"mailsync/internal/api"
	"mailsync/internal/apperr"
	"mailsync/internal/db"
)

// statusClientClosed is logged and counted for a request whose client went
// away before its answer was ready.
const statusClientClosed = 499

// problemType is the stable RFC 9457 type URI prefix; the suffix is the code.
const problemType = "urn:mailsync:problem:"

var codeStatus = map[apperr.Code]int{
	apperr.Malformed:    http.StatusBadRequest,
	apperr.Invalid:      http.StatusUnprocessableEntity,
	apperr.KeyReused:    http.StatusUnprocessableEntity,
	apperr.NotFound:     http.StatusNotFound,
	apperr.Conflict:     http.StatusConflict,
	apperr.RunInProcess: http.StatusConflict,
	apperr.TooLarge:     http.StatusRequestEntityTooLarge,
	apperr.Unsupported:  http.StatusUnsupportedMediaType,
	apperr.Unavailable:  http.StatusServiceUnavailable,
	apperr.Gone:         http.StatusGone,
	apperr.Stale:        http.StatusPreconditionFailed,
	apperr.NeedsIfMatch: http.StatusPreconditionRequired,
}

var codeTitle = map[apperr.Code]string{
	apperr.Malformed:    "Malformed request",
	apperr.Invalid:      "Validation failed",
	apperr.KeyReused:    "Idempotency-Key reused",
	apperr.NotFound:     "Not found",
	apperr.Conflict:     "Request in progress",
	apperr.RunInProcess: "Reconciliation already running",
	apperr.TooLarge:     "Request body too large",
	apperr.Unsupported:  "Unsupported media type",
	apperr.Unavailable:  "Service unavailable",
	apperr.Gone:         "Gone",
	apperr.Stale:        "Precondition failed",
	apperr.NeedsIfMatch: "Precondition required",
}

// Problem builds the RFC 9457 document for a domain error.
func Problem(e *apperr.Error) (int, api.Problem) {
	status, ok := codeStatus[e.Code]
	if !ok {
		status = http.StatusBadRequest
	}
	detail := e.Message
	p := api.Problem{Type: problemType + string(e.Code), Title: codeTitle[e.Code], Status: int32(status), Detail: &detail}
	if len(e.Fields) > 0 {
		fields := make([]api.ProblemFieldError, len(e.Fields))
		for i, f := range e.Fields {
			fields[i] = api.ProblemFieldError{Field: f.Field, Message: f.Message}
		}
		p.Errors = &fields
	}
	if e.Code == apperr.RunInProcess && e.ID != 0 {
		p.RunningId = &e.ID
	}
	return status, p
}

// WriteError writes err as problem+json. Domain errors keep their message;
// a failed body read is the client's (408 on the read deadline); a store
// that cannot be reached or did not answer before the request's deadline is
// a 503 with Retry-After; anything else is logged with the request id and
// answered with a bare "internal error", so no SQL, stack or token reaches
// the client.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := apperr.As(err)
	var bodyErr *bodyReadError
	switch {
	case e != nil:
	case errors.As(err, &bodyErr):
		if bodyErr.timedOut() {
			w.Header().Set("Connection", "close")
			writeProblem(w, r, http.StatusRequestTimeout, api.Problem{Type: problemType + "request_timeout",
				Title: "Request timeout", Status: http.StatusRequestTimeout,
				Detail: ptr("the request body did not arrive in time")})
			return
		}
		if e = classify(bodyErr.err); e == nil {
			e = apperr.New(apperr.Malformed, "the request body could not be read")
		}
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads this answer. nginx's 499
		// ("client closed request") keeps it out of the 5xx count.
		slog.InfoContext(r.Context(), "client closed the request", "method", r.Method, "path", r.URL.Path)
		w.WriteHeader(statusClientClosed)
		return
	case db.IsUnavailable(err):
		slog.WarnContext(r.Context(), "store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		e = apperr.New(apperr.Unavailable, "a store is unavailable or did not answer in time; retry later")
	case isJSONDecodeError(err):
		// Request bodies are decoded before the handler runs and their
		// errors arrive through writeRequestError as client errors; a JSON
		// decode error here comes from data read back from a store, so it
		// is the server's (500 below).
	default:
		e = classify(err)
	}
	if e == nil {
		slog.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		writeProblem(w, r, http.StatusInternalServerError, api.Problem{
			Type: problemType + "internal", Title: "Internal error", Status: http.StatusInternalServerError,
			Detail: ptr("internal error; the request id identifies it in the server log"),
		})
		return
	}
	status, p := Problem(e)
	if status == http.StatusConflict || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeProblem(w, r, status, p)
}

func writeProblem(w http.ResponseWriter, r *http.Request, status int, p api.Problem) {
	if k := r.Header.Get("Idempotency-Key"); k != "" && len(k) <= 257 {
		w.Header().Set("Idempotency-Key", k)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = encodeJSON(w, p)
}

// writeRequestError answers an error raised while reading the request (by
// the generated wrappers or the JSON decoder): always the client's, so a 4xx.
func writeRequestError(w http.ResponseWriter, r *http.Request, err error) {
	var bodyErr *bodyReadError
	if apperr.As(err) == nil && !errors.As(err, &bodyErr) {
		var perr *time.ParseError
		if e := classify(err); e != nil {
			err = e
		} else if errors.As(err, &perr) {
			err = apperr.New(apperr.Malformed, "a date-time is not RFC 3339 (like 2026-11-27T10:00:00Z)")
		} else {
			err = apperr.New(apperr.Malformed, "the request does not match this operation's schema")
		}
	}
	WriteError(w, r, err)
}

// classify turns errors raised while reading a request (by the generated
// wrappers or the JSON decoder) into client errors, or nil. WriteError asks
// the store first, so an unexpected EOF from the pool is never taken for a
// truncated body.
func classify(err error) *apperr.Error {
	var maxBytes *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var required *api.RequiredHeaderError
	var format *api.InvalidParamFormatError
	var reqParam *api.RequiredParamError
	var unescaped *api.UnescapedCookieParamError
	var tooMany *api.TooManyValuesForParamError
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &maxBytes):
		return apperr.New(apperr.TooLarge, "the request body exceeds %d bytes", maxBytes.Limit)
	case errors.As(err, &syntax):
		return apperr.New(apperr.Malformed, "the body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		return apperr.New(apperr.Malformed, "field %q has the wrong JSON type (got %s)", typ.Field, typ.Value)
	case errors.As(err, &required):
		return apperr.New(apperr.Malformed, "the %s header is required", required.ParamName)
	case errors.As(err, &format):
		return apperr.New(apperr.Malformed, "parameter %s is malformed", format.ParamName)
	case errors.As(err, &reqParam):
		return apperr.New(apperr.Malformed, "parameter %s is required", reqParam.ParamName)
	case errors.As(err, &tooMany), errors.As(err, &unescaped):
		return apperr.New(apperr.Malformed, "a parameter is malformed")
	case errors.As(err, &pgErr) && (pgErr.Code == "22021" || pgErr.Code == "22P05"):
		// A safety net behind checkParams and checkBody: text PostgreSQL cannot hold.
		return apperr.New(apperr.Invalid, "a value holds characters that cannot be stored")
	case errors.Is(err, io.EOF):
		return apperr.New(apperr.Malformed, "the request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Malformed, "the body is not valid JSON (it ends too early)")
	}
	return nil
}

// isJSONDecodeError reports whether err is a JSON syntax or type error.
func isJSONDecodeError(err error) bool {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &syntax) || errors.As(err, &typ)
}

func ptr[T any](v T) *T { return &v }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
