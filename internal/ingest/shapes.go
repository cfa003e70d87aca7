package ingest

import (
	"fmt"
	"strings"
)

// Shape is a message built to measure parsing cost: the benchmark and the
// linearity tests parse these.
type Shape struct {
	Name string
	// Build returns a message of about size bytes.
	Build func(size int) []byte
}

const shapeHeader = "Message-ID: <shape@example.com>\r\nFrom: a@example.com\r\nTo: b@example.org\r\nSubject: shape\r\n"

// textLines returns about n bytes of 72-byte text lines.
func textLines(n int) string {
	line := strings.Repeat("x", 70) + "\r\n"
	return strings.Repeat(line, max(n/len(line), 1))
}

// ManyParts is a multipart/mixed message of parts of about partSize bytes
// of text each, filling size bytes.
func ManyParts(size, partSize int) []byte {
	var b strings.Builder
	b.WriteString(shapeHeader + "Content-Type: multipart/mixed; boundary=b0\r\n\r\n")
	body := textLines(partSize)
	for b.Len() < size {
		b.WriteString("--b0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
		b.WriteString(body)
	}
	b.WriteString("--b0--\r\n")
	return []byte(b.String())
}

// Shapes are the worst shapes measured: a plain text message (the linear
// baseline), thousands of small parts, parts just under the split limit,
// nesting past the section limit (closed and unclosed), one large base64
// attachment, tens of thousands of header lines, and a body without line
// breaks.
var Shapes = []Shape{
	{"plain text", func(size int) []byte {
		return []byte(shapeHeader + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + textLines(size))
	}},
	{"small parts (1 KB each)", func(size int) []byte { return ManyParts(size, 1000) }},
	{"parts under the split limit", func(size int) []byte { return ManyParts(size, size/(MaxPartLines-10)) }},
	{"nested sections, closed", func(size int) []byte { return nestedShape(size, 40, true) }},
	{"nested sections, unclosed", func(size int) []byte { return nestedShape(size, 40, false) }},
	{"base64 attachment", func(size int) []byte {
		line := strings.Repeat("QUJD", 19) + "\r\n"
		return []byte(shapeHeader + "Content-Type: multipart/mixed; boundary=b0\r\n\r\n--b0\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
			"--b0\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			strings.Repeat(line, size/len(line)) + "--b0--\r\n")
	}},
	{"header lines", func(size int) []byte {
		var b strings.Builder
		b.WriteString(shapeHeader)
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, "X-Trace-%d: %s\r\n", i%2000, strings.Repeat("h", 60))
		}
		b.WriteString("\r\nbody\r\n")
		return []byte(b.String())
	}},
	{"one line", func(size int) []byte {
		return []byte(shapeHeader + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat("y", size))
	}},
}

// nestedShape nests depth multipart sections (closed or not) around text
// filling size bytes.
func nestedShape(size, depth int, closed bool) []byte {
	var b strings.Builder
	b.WriteString(shapeHeader + "Content-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s", depth, textLines(size))
	for i := depth; closed && i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return []byte(b.String())
}
