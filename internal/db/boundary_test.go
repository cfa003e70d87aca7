package db

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const genPath = "mailsync/internal/db/gen"

// TestGeneratedCodeStaysInsideDB keeps sqlc's output behind db.Queries: no
// file outside internal/db imports it, and nothing exported by package db
// names one of its types, so changing a query never reaches a service.
func TestGeneratedCodeStaysInsideDB(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var leaks []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || rel == "tools" || rel == filepath.Join("internal", "db") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == genPath {
				leaks = append(leaks, rel)
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Empty(t, leaks, "these files import sqlc's generated code; add a db.Queries method instead")

	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	require.NoError(t, err)
	for _, f := range pkgs["db"].Files {
		for _, decl := range f.Decls {
			for _, n := range exported(decl) {
				ast.Inspect(n, func(x ast.Node) bool {
					if sel, ok := x.(*ast.SelectorExpr); ok {
						if id, ok := sel.X.(*ast.Ident); ok && id.Name == "gen" {
							leaks = append(leaks, fset.Position(sel.Pos()).String())
						}
					}
					return true
				})
			}
		}
	}
	require.Empty(t, leaks, "exported names of package db mention generated types")
}

// exported returns the parts of decl other packages see: the signatures of
// exported functions and methods, and exported types but for their
// unexported fields.
func exported(decl ast.Decl) []ast.Node {
	var out []ast.Node
	switch d := decl.(type) {
	case *ast.FuncDecl:
		if d.Name.IsExported() {
			out = append(out, d.Type)
		}
	case *ast.GenDecl:
		for _, s := range d.Specs {
			ts, ok := s.(*ast.TypeSpec)
			if !ok || !ts.Name.IsExported() {
				continue
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				out = append(out, ts.Type)
				continue
			}
			for _, f := range st.Fields.List { // unexported fields are hidden
				if len(f.Names) == 0 || f.Names[0].IsExported() {
					out = append(out, f.Type)
				}
			}
		}
	}
	return out
}
