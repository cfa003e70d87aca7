package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// envName is what an environment variable's name looks like.
var envName = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

// envReaders are the functions through which cmd/server reads variables.
var envReaders = map[string]bool{"Getenv": true, "LookupEnv": true, "getenv": true, "lookup": true}

// TestReadmeListsEveryVariable fails when the server reads an environment
// variable that the README's Configuration section does not name: it finds
// every call in cmd/server's code whose first argument is a variable name
// (env.str("MONGO_URL", ...), getenv("MAILSYNC_URL"), os.Getenv(...)).
func TestReadmeListsEveryVariable(t *testing.T) {
	t.Parallel()
	vars := variablesRead(t)
	require.Contains(t, vars, "DATABASE_URL", "the scan finds the configuration's variables")
	require.Contains(t, vars, "MAILSYNC_URL", "the scan finds server deliver's variables")

	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n## Configuration\n")
	require.True(t, ok, "README.md has a Configuration section")
	section, _, _ = strings.Cut(section, "\n## ")
	for name, at := range vars {
		require.True(t, strings.Contains(section, "`"+name+"`"),
			"%s reads %s, but the README's Configuration section does not list it: add a row to its table", at, name)
	}
}

// variablesRead maps each variable name read by cmd/server's non-test code
// to the place that reads it.
func variablesRead(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	vars := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			name, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			if envName.MatchString(name) || envReaders[calleeName(call.Fun)] && name != "" {
				vars[name] = fset.Position(lit.Pos()).String()
			}
			return true
		})
	}
	return vars
}

func calleeName(fun ast.Expr) string {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}
