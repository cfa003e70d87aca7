// Package api is the HTTP contract of mailsync, generated from
// api/openapi.yaml by oapi-codegen v2.8.2 (configuration in
// api/oapi-codegen.yaml) into api.gen.go, which is committed and never edited
// by hand. Regenerate from the repository root with:
//
//	oapi-codegen -config api/oapi-codegen.yaml api/openapi.yaml
//
// It holds the models, the chi router (HandlerWithOptions), the strict server
// interface (StrictServerInterface, wrapped by NewStrictHandlerWithOptions)
// and the embedded specification (GetSwagger).
//
// Things the generated code leaves to its user:
//
//   - Both error hooks default to text/plain: set ChiServerOptions.ErrorHandlerFunc
//     (bad path, query or header parameters, such as a missing Idempotency-Key)
//     and StrictHTTPServerOptions.RequestErrorHandlerFunc (undecodable JSON body)
//     to answer 400 application/problem+json, and ResponseErrorHandlerFunc to
//     answer 500.
//   - Only POST /v1/emails checks the Content-Type: a JSON body arrives in
//     CreateEmailRequestObject.JSONBody, a message/rfc822 body in Body (an
//     unread io.Reader), and with any other type both are nil (answer 415).
//     The other operations decode their body as JSON whatever the Content-Type.
//   - Optional request bodies (retrySyncFailures, startReconciliation) are
//     nil when the request has no body.
//   - Defaults in the spec (limit 50, dry_run false) are not applied: absent
//     parameters are nil pointers.
//   - Required arrays and maps in responses encode nil as null: use empty,
//     non-nil values.
//   - Security is not enforced here: each /v1 operation names its scope in the
//     x-required-scope extension of the embedded spec.
package api
