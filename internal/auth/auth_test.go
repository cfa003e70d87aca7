package auth_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"mailsync/internal/auth"
)

func TestParseKeys(t *testing.T) {
	ks, err := auth.ParseKeys(" ops:0123456789abcdef:read+admin , mta:fedcba9876543210:ingest,")
	require.NoError(t, err)
	require.Equal(t, 2, ks.Len())

	ops := ks.Lookup("0123456789abcdef")
	require.NotNil(t, ops)
	require.Equal(t, "ops", ops.Name)
	require.True(t, ops.Has(auth.ScopeRead))
	require.True(t, ops.Has(auth.ScopeAdmin))
	require.False(t, ops.Has(auth.ScopeIngest))
	require.Equal(t, "mta", ks.Lookup("fedcba9876543210").Name)
	require.Nil(t, ks.Lookup("0123456789abcdeX"))
	require.Nil(t, ks.Lookup(""))
	var none *auth.Client
	require.False(t, none.Has(auth.ScopeRead))
}

func TestParseKeysErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"ops:0123456789abcdef":                               "entry 1: want name:token:scope+scope",
		"ops:short:read":                                     "entry 1 (ops): token shorter than 16 characters",
		"ops:0123456789abcdef:read+write":                    `entry 1 (ops): unknown scope "write"`,
		"a:0123456789abcdef:read,b:0123456789abcdef:ingest":  "entry 2 (b): duplicate token",
		"a:0123456789abcdef:read,:fedcba9876543210:ingest":   "entry 2: want name:token:scope+scope",
		"a:0123456789abcdef:read,b:fedcba9876543210:extra:x": "entry 2: want name:token:scope+scope",
	} {
		_, err := auth.ParseKeys(spec)
		require.Error(t, err, spec)
		require.Contains(t, err.Error(), want, spec)
		require.NotContains(t, err.Error(), "0123456789abcdef", "errors never echo a token")
	}
}

func TestParseKeysEmpty(t *testing.T) {
	ks, err := auth.ParseKeys("")
	require.NoError(t, err)
	require.Equal(t, 0, ks.Len())
}
