package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSectionsRunInDefaultOrder: a section named on the command line runs in
// the default order whatever order it was named in; an unknown name is
// refused with the list of known ones.
func TestSectionsRunInDefaultOrder(t *testing.T) {
	got, err := chosenSections("memory, ingest")
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "ingest", got[0].name)
	require.Equal(t, "memory", got[1].name)

	_, err = chosenSections("ingest,nosuch")
	require.ErrorContains(t, err, `unknown section "nosuch"`)
	require.ErrorContains(t, err, "ingest,status")

	all, err := chosenSections("all")
	require.NoError(t, err)
	require.Equal(t, len(registered), len(all))
}
