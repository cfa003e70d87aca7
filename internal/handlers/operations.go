package handlers

import (
	"context"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"mailsync/internal/api"
	"mailsync/internal/auth"
)

// operation is what the edge middlewares need to know about one operation
// of the contract, read once from api/openapi.yaml.
type operation struct {
	// rule is who may call it: x-required-scope (every resource; absent
	// means open) and x-owner-scope (its own client's emails only).
	rule auth.Rule
	// query holds the names of the query parameters the operation takes;
	// any other is refused.
	query map[string]bool
	// headers are the header parameters whose values reach the store.
	headers []string
	// bodyTypes are the media types the request body may have; empty when
	// the operation takes no body.
	bodyTypes map[string]bool
	// jsonBody is the schema of an application/json body (nil without one):
	// checkBody refuses members it does not allow.
	jsonBody *openapi3.Schema
}

// operations maps "METHOD /path/{param}" (chi's route pattern) to each
// operation of the spec.
func operations(doc *openapi3.T) map[string]*operation {
	out := map[string]*operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			o := &operation{query: map[string]bool{}, bodyTypes: map[string]bool{}}
			o.rule.Scope, _ = op.Extensions["x-required-scope"].(string)
			o.rule.OwnerScope, _ = op.Extensions["x-owner-scope"].(string)
			params := append(openapi3.Parameters{}, item.Parameters...)
			params = append(params, op.Parameters...)
			for _, ref := range params {
				p := ref.Value
				if p == nil {
					continue
				}
				switch p.In {
				case openapi3.ParameterInQuery:
					o.query[p.Name] = true
				case openapi3.ParameterInHeader:
					o.headers = append(o.headers, p.Name)
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for mt, c := range op.RequestBody.Value.Content {
					o.bodyTypes[strings.ToLower(mt)] = true
					if strings.EqualFold(mt, "application/json") && c.Schema != nil {
						o.jsonBody = c.Schema.Value
					}
				}
			}
			out[method+" "+path] = o
		}
	}
	return out
}

type operationKey struct{}

// resolveOperation finds the operation chi routed the request to (its
// pattern is known once a route matched, so this runs as a route-group
// middleware) and puts it in the context for the middlewares after it.
func resolveOperation(ops map[string]*operation) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			method := r.Method
			if method == http.MethodHead { // routed to the GET (middleware.GetHead)
				method = http.MethodGet
			}
			op := ops[method+" "+routePattern(r)]
			if op == nil {
				// Every route of the group is in the spec. Were one not, it
				// would have no access rule: refuse it rather than serve it
				// to anyone.
				writeProblem(w, r, http.StatusMethodNotAllowed, api.Problem{Type: problemType + "method_not_allowed",
					Title: "Method not allowed", Status: 405, Detail: ptr(r.Method + " is not allowed here")})
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), operationKey{}, op)))
		})
	}
}

// operationOf returns the request's operation (never nil).
func operationOf(r *http.Request) *operation {
	if op, ok := r.Context().Value(operationKey{}).(*operation); ok {
		return op
	}
	return &operation{query: map[string]bool{}, bodyTypes: map[string]bool{}}
}
