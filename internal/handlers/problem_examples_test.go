package handlers_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"mailsync/internal/apperr"
	"mailsync/internal/handlers"
)

// TestSpecProblemExamplesAreMailsyncs checks that every problem type the
// API description shows as an example is one mailsync answers with
// (urn:mailsync:problem:<code>): clients match on these types, and an
// example of another form taught one to wait for a 409 that never came.
func TestSpecProblemExamplesAreMailsyncs(t *testing.T) {
	t.Parallel()
	spec, err := os.ReadFile("../../api/openapi.yaml")
	require.NoError(t, err)
	_, p := handlers.Problem(apperr.New(apperr.Conflict, "x"))
	require.Regexp(t, `^urn:mailsync:problem:[a-z_]+$`, p.Type, "the form mailsync answers with")
	// Schema types (type: string) hold no colon; problem types do.
	examples := regexp.MustCompile(`(?m)^\s+(?:type|example): (\S*:\S*)\s*$`).FindAllSubmatch(spec, -1)
	require.NotEmpty(t, examples)
	uri := regexp.MustCompile(`^(https?|urn):`)
	server := regexp.MustCompile(`^https?://(127|localhost|example)`) // server URLs, not problem types
	for _, m := range examples {
		if v := string(m[1]); uri.MatchString(v) && !server.MatchString(v) {
			require.Regexp(t, `^urn:mailsync:problem:[a-z_]+$`, v)
		}
	}
}
