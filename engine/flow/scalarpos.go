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
	lines := strings.Split(string(f.Src), "\n")
	mk := func(line, col int) diag.Pos {
		return diag.Pos{Line: line, Column: col, Byte: -1}
	}
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
			if off <= acc+w {
				return mk(i+1, indent+off-acc+1)
			}
			acc += w + 1
		}
		return fallback
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
				return fallback
			}
			l = string(r[start-1:])
		} else {
			t := strings.TrimLeft(l, " \t")
			base, l = utf8.RuneCountInString(l)-utf8.RuneCountInString(t)+1, t
		}
		w := utf8.RuneCountInString(strings.TrimRight(l, " \t"))
		if off <= acc+w {
			return mk(i+1, base+off-acc)
		}
		acc += w + 1
	}
	return fallback
}
