package handlers

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"mailsync/internal/api"
	"mailsync/internal/apperr"
	"mailsync/internal/auth"
)

// ownerFunc returns the API client that stored email id, or an apperr
// NotFound.
type ownerFunc func(ctx context.Context, id int64) (string, error)

// authenticate applies the access rules of the request's operation (see
// auth.Rule and docs/security.md), the one place they are enforced: 401
// without a valid token, then the client's rate limit, then 403 when the
// key's scopes never admit it to the operation, then, for a key admitted to
// its own client's emails only, 404 unless the email named by the path is
// one of them. It runs before anything reads the request's parameters or
// body, so an unauthenticated client learns nothing about validation and
// cannot make the server buffer an upload, and a key learns nothing (not a
// version, not a validation error) about an email it may not read. With
// keys nil every request is the anonymous all-scope client.
func authenticate(keys *auth.Keys, lim *limiter, owner ownerFunc, timeout time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rule := operationOf(r).rule
			if rule.Scope == "" {
				next.ServeHTTP(w, r)
				return
			}
			client := auth.Anonymous
			if keys != nil {
				// One key per request: with two Authorization lines, which
				// one counts would depend on who reads them (a proxy, this
				// server), so neither does.
				token, ok := bearerToken(r.Header.Get("Authorization"))
				ok = ok && len(r.Header.Values("Authorization")) == 1
				client = keys.Lookup(token)
				if !ok || client == nil {
					// The body is never read: ask the server to close the
					// connection rather than drain an upload nobody asked for.
					w.Header().Set("Connection", "close")
					w.Header().Set("WWW-Authenticate", `Bearer realm="mailsync"`)
					writeProblem(w, r, http.StatusUnauthorized, api.Problem{Type: problemType + "unauthorized",
						Title: "Unauthorized", Status: 401, Detail: ptr("send a valid API key as Authorization: Bearer <token>")})
					return
				}
			}
			if ok, wait := lim.allow(clientName(client)); !ok {
				writeTooMany(w, r, wait)
				return
			}
			switch rule.Decide(client) {
			case auth.Forbid:
				w.Header().Set("Connection", "close")
				writeProblem(w, r, http.StatusForbidden, api.Problem{Type: problemType + "forbidden",
					Title: "Forbidden", Status: 403, Detail: ptr("this API key lacks the " + rule.Scope + " scope")})
				return
			case auth.AllowOwn:
				if err := checkOwner(r, client, owner, timeout); err != nil {
					w.Header().Set("Connection", "close") // the body is not read
					WriteError(w, r, err)
					return
				}
			}
			next.ServeHTTP(w, r.WithContext(auth.WithClient(r.Context(), client)))
		})
	}
}

// checkOwner admits a request on the email named by the path's id when
// client stored it, and answers exactly as for an email that does not exist
// otherwise. A malformed id is left to the operation (400, whoever asks).
// The look-up is bounded by timeout (none when it is not positive), as the
// operation's own work is.
func checkOwner(r *http.Request, client *auth.Client, owner ownerFunc, timeout time.Duration) error {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id < 1 {
		return nil
	}
	ctx := r.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	who, err := owner(ctx, id)
	if err != nil {
		return err
	}
	if who != client.Name {
		return apperr.New(apperr.NotFound, "email %d not found", id)
	}
	return nil
}

// bearerToken returns the token of an Authorization header using the Bearer
// scheme. The scheme name is case-insensitive (RFC 7235 §2.1); spaces
// around the token are ignored.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
