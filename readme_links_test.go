package mailsync_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// mdLink matches the target of a Markdown link or image: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocLinksResolve checks every relative link of README.md and docs/*.md:
// the file or directory it names exists in the repository, and an #anchor
// names a heading of the Markdown page it points at. Links to other sites
// are left alone.
func TestDocLinksResolve(t *testing.T) {
	t.Parallel()
	pages, err := filepath.Glob("docs/*.md")
	require.NoError(t, err)
	pages = append(pages, "README.md")
	require.Contains(t, pages, filepath.Join("docs", "operations.md"))
	for _, page := range pages {
		b, err := os.ReadFile(page)
		require.NoError(t, err)
		text := withoutCodeBlocks(string(b))
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			file := page
			if path != "" {
				file = filepath.Join(filepath.Dir(page), path)
				_, err := os.Stat(file)
				require.NoError(t, err, "%s links to %s, which does not exist", page, target)
			}
			if anchor != "" {
				require.Contains(t, headingAnchors(t, file), anchor, "%s links to %s: no such heading in %s", page, target, file)
			}
		}
	}
}

// withoutCodeBlocks drops fenced code blocks, whose brackets are not links.
func withoutCodeBlocks(s string) string {
	var out []string
	in := false
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			in = !in
			continue
		}
		if !in {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// headingAnchors returns the anchors GitHub gives the headings of a
// Markdown file: lower case, punctuation other than - and _ dropped, spaces
// turned into -.
func headingAnchors(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var anchors []string
	for _, line := range strings.Split(withoutCodeBlocks(string(b)), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var a strings.Builder
		for _, r := range h {
			switch {
			case r == ' ':
				a.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
				a.WriteRune(r)
			}
		}
		anchors = append(anchors, a.String())
	}
	return anchors
}

// TestReadmeIsAReference keeps the README a reference: at most 300 lines,
// and neither it nor docs/ names files the repository does not have or
// paths of one machine.
func TestReadmeIsAReference(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	require.LessOrEqual(t, strings.Count(string(b), "\n"), 300, "README.md is a reference of at most 300 lines; move detail to docs/")
	pages, err := filepath.Glob("docs/*.md")
	require.NoError(t, err)
	for _, page := range append(pages, "README.md") {
		b, err := os.ReadFile(page)
		require.NoError(t, err)
		for _, bad := range []string{"DESIGN.md", "/work/", "/root/", "/home/"} {
			require.NotContains(t, string(b), bad, "%s names %s", page, bad)
		}
	}
}
