package handlers

import (
	"net/http"
	"strings"

	"mailsync/internal/api"
	"mailsync/internal/auth"
)

// authenticate admits a request whose bearer token holds the scope its
// operation requires (401 without a valid token, 403 without the scope),
// then applies the client's rate limit. It runs before anything reads the
// request's parameters or body, so an unauthenticated client learns nothing
// about validation and cannot make the server buffer an upload. With keys
// nil every request is the anonymous all-scope client.
func authenticate(keys *auth.Keys, lim *limiter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scope := operationOf(r).scope
			if scope == "" {
				next.ServeHTTP(w, r)
				return
			}
			client := auth.Anonymous
			if keys != nil {
				token, ok := bearerToken(r.Header.Get("Authorization"))
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
			if !client.Has(scope) {
				w.Header().Set("Connection", "close")
				writeProblem(w, r, http.StatusForbidden, api.Problem{Type: problemType + "forbidden",
					Title: "Forbidden", Status: 403, Detail: ptr("this API key lacks the " + scope + " scope")})
				return
			}
			next.ServeHTTP(w, r.WithContext(auth.WithClient(r.Context(), client)))
		})
	}
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
