package load

import (
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// source indexes a file's lines so node positions can be turned into
// diag.Pos values with byte offsets and scalar ends.
type source struct {
	name  string
	src   []byte
	lines []int // byte offset of the start of each line
}

func newSource(name string, src []byte) *source {
	s := &source{name: name, src: src, lines: make([]int, 1, 64)}
	for i, b := range src {
		if b == '\n' {
			s.lines = append(s.lines, i+1)
		}
	}
	return s
}

// numLines is the number of lines a diagnostic may point at.
func (s *source) numLines() int { return len(s.lines) }

// line returns the text of 1-based line n without its line break.
func (s *source) line(n int) string {
	if n < 1 || n > len(s.lines) {
		return ""
	}
	start, end := s.lines[n-1], len(s.src)
	if n < len(s.lines) {
		end = s.lines[n] - 1
	}
	return strings.TrimSuffix(string(s.src[start:end]), "\r")
}

// pos builds a position, clamping the line into the file so that no
// diagnostic ever points past its end.
func (s *source) pos(line, col int) diag.Pos {
	if line < 1 {
		line = 1
	}
	if line > len(s.lines) {
		line = len(s.lines)
	}
	if col < 1 {
		col = 1
	}
	b := s.lines[line-1]
	l := s.line(line)
	i, c := 0, 1
	for c < col && i < len(l) {
		_, w := utf8.DecodeRuneInString(l[i:])
		i += w
		c++
	}
	if c < col { // past the end of the line: keep the column, byte is unknown
		return diag.Pos{Line: line, Column: col, Byte: -1}
	}
	return diag.Pos{Line: line, Column: col, Byte: b + i}
}

// at is a point range at line:col.
func (s *source) at(line, col int) diag.Range {
	return diag.Range{Filename: s.name, Start: s.pos(line, col)}
}

// nodeRange is the range of a node: start only for containers and block
// scalars, start and end for scalars written on one line.
func (s *source) nodeRange(n *yaml.Node) diag.Range {
	r := diag.Range{Filename: s.name, Start: s.pos(n.Line, n.Column)}
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) != 0 {
		return r
	}
	if w := s.scalarWidth(n); w > 0 {
		r.End = s.pos(n.Line, n.Column+w)
	}
	return r
}

// scalarWidth is the number of runes a one-line scalar takes in the source,
// quotes included, or 0 when that is not cheap to know.
func (s *source) scalarWidth(n *yaml.Node) int {
	l := s.line(n.Line)
	rs := []rune(l)
	if n.Column < 1 || n.Column > len(rs) {
		return 0
	}
	rest := rs[n.Column-1:]
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := 1; i < len(rest); i++ {
			switch rest[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				return i + 1
			}
		}
	default:
		if n.Value != "" && strings.HasPrefix(string(rest), n.Value) {
			return utf8.RuneCountInString(n.Value)
		}
	}
	return 0
}

func style(n *yaml.Node) flow.ScalarStyle {
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		return flow.DoubleQuoted
	case n.Style&yaml.SingleQuotedStyle != 0:
		return flow.SingleQuoted
	case n.Style&yaml.LiteralStyle != 0:
		return flow.Literal
	case n.Style&yaml.FoldedStyle != 0:
		return flow.Folded
	}
	return flow.Plain
}

// tabIndent returns the 1-based line and column of the first tab in the
// indentation of the first of lines that has one, or 0, 0.
func (s *source) tabIndent(lines ...int) (line, col int) {
	for _, ln := range lines {
		text := s.line(ln)
		for i, r := range []rune(text) {
			if r == '\t' {
				return ln, i + 1
			}
			if r != ' ' {
				break
			}
		}
	}
	return 0, 0
}

// badUTF8 returns the 1-based line and column (in runes) of the first byte
// that is not valid UTF-8, or 0, 0 when the file is valid.
func (s *source) badUTF8() (line, col int) {
	if utf8.Valid(s.src) {
		return 0, 0
	}
	for ln := 1; ln <= len(s.lines); ln++ {
		start, end := s.lines[ln-1], len(s.src)
		if ln < len(s.lines) {
			end = s.lines[ln]
		}
		b := s.src[start:end]
		col := 1
		for len(b) > 0 {
			r, size := utf8.DecodeRune(b)
			if r == utf8.RuneError && size <= 1 {
				return ln, col
			}
			b = b[size:]
			col++
		}
	}
	return 0, 0
}
