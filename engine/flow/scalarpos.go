package flow

import (
	"strings"
	"unicode/utf8"

	"github.com/parleyhq/parley/engine/diag"
)

// OffsetPos maps a rune offset inside s.Value to a file position, so an error
// found by the expression compiler at offset 7 of `if:` is reported at the
// author's line and column. It is exact for plain, unescaped quoted and
// literal (|) scalars, and for folded (>) and multi-line plain scalars
// without blank lines; otherwise it degrades to the scalar's own position.
func (f *File) OffsetPos(s Scalar, off int) diag.Pos {
	fallback := s.Range.Start
	if f == nil || !s.IsSet() {
		return fallback
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ps := f.positionsOf(s); off >= 0 && off < len(ps) {
		return ps[off]
	}
	out := fallback
	f.segments(s, func(line, col0, acc, w int) bool {
		if off <= acc+w {
			out = diag.Pos{Line: line, Column: col0 + off - acc, Byte: -1}
			return false
		}
		return true
	})
	return out
}

// scalarKey identifies a scalar of the file.
type scalarKey struct {
	start diag.Pos
	style ScalarStyle
	size  int // len(Value), in case two scalars ever share a start
}

// positionsOf returns the position of every rune offset 0..len(s.Value)
// of s, built once per scalar. An offset past the scalar's source is at
// its start.
func (f *File) positionsOf(s Scalar) []diag.Pos {
	key := scalarKey{s.Range.Start, s.Style, len(s.Value)}
	if ps, ok := f.positions[key]; ok {
		return ps
	}
	n := utf8.RuneCountInString(s.Value)
	ps := make([]diag.Pos, n+1)
	for i := range ps {
		ps[i] = s.Range.Start
	}
	next := 0
	f.segments(s, func(line, col0, acc, w int) bool {
		for ; next <= n && next <= acc+w; next++ {
			ps[next] = diag.Pos{Line: line, Column: col0 + next - acc, Byte: -1}
		}
		return next <= n
	})
	if f.positions == nil {
		f.positions = map[scalarKey][]diag.Pos{}
	}
	f.positions[key] = ps
	return ps
}

// segments calls yield for each source line of s, in order, with its
// 1-based line number, the column where value offset acc sits, acc (the
// value offset at which the line starts) and the line's width in runes,
// until yield returns false. Offset off on a line is at column
// col0+off-acc; the first line whose acc+w reaches off holds it.
func (f *File) segments(s Scalar, yield func(line, col0, acc, w int) bool) {
	if f.lines == nil {
		f.lines = strings.Split(string(f.Src), "\n")
	}
	lines := f.lines
	if s.Style == Literal || s.Style == Folded {
		indent, body := 0, strings.TrimLeft(s.Value, "\n")
		for i := s.Range.Start.Line; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) == "" {
				continue
			}
			lead := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
			for indent = 0; indent < lead; indent++ {
				if strings.HasPrefix(body, strings.TrimRight(lines[i][indent:], " \r")) {
					break
				}
			}
			break
		}
		for i, acc := s.Range.Start.Line, 0; i < len(lines); i++ {
			content := ""
			if len(lines[i]) > indent {
				content = strings.TrimRight(lines[i][indent:], "\r")
			}
			w := utf8.RuneCountInString(content)
			if !yield(i+1, indent+1, acc, w) {
				return
			}
			acc += w + 1
		}
		return
	}
	start := s.Range.Start.Column
	if s.Style == DoubleQuoted || s.Style == SingleQuoted {
		start++
	}
	for i, acc := s.Range.Start.Line-1, 0; i < len(lines) && i >= 0; i++ {
		l, base := strings.TrimRight(lines[i], "\r"), start
		if i == s.Range.Start.Line-1 {
			r := []rune(l)
			if start-1 > len(r) {
				return
			}
			l = string(r[start-1:])
		} else {
			t := strings.TrimLeft(l, " \t")
			base, l = utf8.RuneCountInString(l)-utf8.RuneCountInString(t)+1, t
		}
		w := utf8.RuneCountInString(strings.TrimRight(l, " \t"))
		if !yield(i+1, base, acc, w) {
			return
		}
		acc += w + 1
	}
}
