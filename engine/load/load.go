package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// File parses one flow file. name is used in diagnostics and should be the
// path the author knows (relative, with / separators). The returned flow is
// nil only when nothing could be understood (bad YAML, an empty file, a
// newer language version); otherwise it holds every well-formed part, even
// when the diagnostics contain errors.
func File(name string, src []byte) (*flow.Flow, diag.Diagnostics) {
	if len(src) > MaxFileBytes {
		// Refused before indexing or parsing: yaml.v3 needs about 80 times
		// the file's size in memory, so a 10 MB file would cost close to a
		// gigabyte and several seconds.
		var ds diag.Diagnostics
		ds.Add(diag.FileTooLarge, diag.Range{Filename: name, Start: diag.Pos{Line: 1, Column: 1, Byte: 0}},
			"the file is %s, more than the %s a flow may be: split it into several flows", sizeWords(len(src)), sizeWords(MaxFileBytes))
		return nil, ds
	}
	l := &loader{src: newSource(name, src), suppressed: map[string]bool{}}
	f := l.run()
	l.ds.Sort()
	return f, l.ds
}

// FS reads path from fsys and parses it with File. The error is about the
// file system (a missing or unreadable file), never about the flow: problems
// in the flow are diagnostics.
func FS(fsys fs.FS, path string) (*flow.Flow, diag.Diagnostics, error) {
	src, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, nil, fmt.Errorf("read flow %s: %w", path, err)
	}
	f, ds := File(path, src)
	return f, ds, nil
}

// MaxFileBytes is the largest flow file File parses. Real flows are a few
// kilobytes; the cap keeps a hostile or mistaken file (a log, a dump) from
// costing seconds and hundreds of megabytes in every lint and serve.
const MaxFileBytes = 1 << 20

// sizeWords renders a byte count the way a person reads it.
func sizeWords(n int) string {
	if n >= 1<<20 {
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	}
	return strconv.Itoa(n) + " bytes"
}

type loader struct {
	src *source
	ds  diag.Diagnostics
	// suppressed holds instance pointers (tokens joined by "/", unescaped)
	// already reported by a YAML-level check; schema errors at or under
	// them would only repeat the same problem.
	suppressed map[string]bool
}

func (l *loader) add(rule diag.RuleID, r diag.Range, format string, args ...any) *diag.Diagnostic {
	return l.ds.Add(rule, r, format, args...)
}

func (l *loader) run() *flow.Flow {
	if !l.checkUTF8() {
		return nil
	}
	docs, ok := l.parse()
	if !ok {
		return nil
	}
	if len(docs) == 0 || isEmptyDoc(docs[0]) {
		l.add(diag.EmptyFile, l.src.at(1, 1), "the file is empty: a flow needs at least parley, id, version, start and steps")
		return nil
	}
	for _, d := range docs[1:] {
		if isEmptyDoc(d) {
			continue // a trailing "---" is harmless
		}
		l.add(diag.MultipleDocuments, l.src.nodeRange(d), "the file holds more than one document (a line with ---): put each flow in its own file")
		break
	}
	root := docs[0].Content[0]
	if root.Kind != yaml.MappingNode {
		l.add(diag.WrongType, l.src.nodeRange(root), "a flow must be a list of keys such as \"parley: 1\", not %s", kindWords(root))
		return nil
	}
	inst := l.convert(root, nil)
	if !l.checkVersion(root) {
		return nil
	}
	l.validateSchema(root, inst)
	return l.build(root)
}

func isEmptyDoc(d *yaml.Node) bool {
	if len(d.Content) == 0 {
		return true
	}
	c := d.Content[0]
	return c.Kind == yaml.ScalarNode && c.ShortTag() == "!!null" && c.Anchor == "" && c.Style&yaml.TaggedStyle == 0
}

// parse decodes every YAML document of the file. It reports a syntax error
// and returns false when the first document cannot be read.
func (l *loader) parse() ([]*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(l.src.src))
	var docs []*yaml.Node
	for {
		n := new(yaml.Node)
		err := dec.Decode(n)
		if errors.Is(err, io.EOF) {
			return docs, true
		}
		if err != nil {
			l.syntaxError(err)
			return docs, len(docs) > 0
		}
		docs = append(docs, n)
	}
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserMessages are the yaml.v3 errors raised by its parser (not its
// scanner). For them yaml.v3 prints a 0-based line number; scanner errors
// are already 1-based.
var parserMessages = []string{
	"did not find expected <stream-start>", "did not find expected <document start>",
	"did not find expected node content", "did not find expected '-' indicator",
	"did not find expected key", "did not find expected ',' or ']'",
	"did not find expected ',' or '}'", "found duplicate %YAML directive",
	"found incompatible YAML document", "found duplicate %TAG directive",
	"found undefined tag handle",
}

// syntaxMessages rewrites yaml.v3's parser vocabulary for flow authors.
var syntaxMessages = []struct{ prefix, say string }{
	{"did not find expected key", "the indentation of this line does not match the lines above, or a key is missing its colon"},
	{"mapping values are not allowed", "unexpected colon: put text that contains \": \" in quotes, or check the indentation"},
	{"found character that cannot start any token", "this line starts with a character YAML cannot read: indent with spaces, not tabs, and put text starting with @ or ` in quotes"},
	{"found a tab character", "tabs cannot be used for indentation: use spaces"},
	{"did not find expected ',' or ']'", "a [ list ] is not closed: add the missing ] or a comma between items"},
	{"did not find expected ',' or '}'", "a { … } block is not closed: add the missing } or a comma between keys"},
	{"found unexpected end of stream", "the file ends inside quoted text: close the quote"},
	{"could not find expected ':'", "a key is missing its colon"},
	{"did not find expected '-' indicator", "a list item is missing its dash, or the indentation is off"},
	{"did not find expected node content", "a value is missing here"},
	{"block sequence entries are not allowed", "a list item (- …) cannot start here: put it on its own line under its key"},
	{"control characters are not allowed", "the file contains control characters: is it really a text file?"},
	{"invalid leading UTF-8 octet", "the file is not valid UTF-8 text"},
	{"invalid trailing UTF-8 octet", "the file is not valid UTF-8 text"},
	{"incomplete UTF-8 octet sequence", "the file is not valid UTF-8 text"},
	{"found unknown escape character", "unknown escape (\\…) in double-quoted text: write \\\\ for a backslash, or use single quotes"},
	{"found unexpected document indicator", "a line with --- or ... cannot appear inside quoted text"},
	{"did not find expected comment or line break", "unexpected text after a value: put the whole value in quotes"},
}

func (l *loader) syntaxError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
		msg = m[2]
		line, _ = strconv.Atoi(m[1])
		for _, p := range parserMessages {
			if strings.HasPrefix(msg, p) {
				line++
				break
			}
		}
	}
	if line > l.src.numLines() {
		line = l.src.numLines()
	}
	say := "the file is not valid YAML: " + msg
	for _, sm := range syntaxMessages {
		if strings.HasPrefix(msg, sm.prefix) {
			say = sm.say
			break
		}
	}
	col := firstColumn(l.src.line(line))
	switch {
	case strings.Contains(msg, "tab character"):
		// Reported on the line of the token being read, which can be
		// the line before the tab.
		if tl, tc := l.src.tabIndent(line, line+1, line-1); tl > 0 {
			line, col = tl, tc
		}
	case strings.HasPrefix(msg, "found character that cannot start any token"):
		// Right line; the column is the tab when the line starts with one
		// (otherwise the culprit is an @ or ` at the first column).
		if tl, tc := l.src.tabIndent(line); tl > 0 {
			line, col = tl, tc
		}
	}
	if strings.HasPrefix(msg, "did not find expected ',' or") {
		// The usual cause: text with "?" or ": " inside { … } or [ … ].
		if q := questionInFlow(l.src.line(line)); q > 0 {
			col = q
			say = "a ? inside { … } or [ … ] ends the text early: put the whole text in quotes"
		}
	}
	for _, ln := range []int{line, line - 1} {
		if c := unquotedTemplate(l.src.line(ln)); c > 0 {
			line, col, say = ln, c, quoteTemplate
			break
		}
	}
	d := l.add(diag.YAMLSyntax, l.src.at(line, col), "%s", say)
	d.Detail = "YAML parser: " + msg
}

// quoteTemplate is said when a text starts with an unquoted {{.
const quoteTemplate = `this text starts with {{, which YAML reads as a { … } block: quote this text, for example say: "{{ name }}, welcome"`

var templateStart = regexp.MustCompile(`^\s*(?:-\s+)?(?:[^\s:#'"{\[][^:#]*:\s+)?(\{\{)`)

// unquotedTemplate returns the column of a {{ that starts a value (or a
// list item) without quotes on line, or 0.
func unquotedTemplate(line string) int {
	m := templateStart.FindStringSubmatchIndex(line)
	if m == nil {
		return 0
	}
	return utf8.RuneCountInString(line[:m[2]]) + 1
}

// questionInFlow returns the column of the first "?" after a "{" or "[" on
// the line, or 0.
func questionInFlow(line string) int {
	open := false
	col := 1
	for _, r := range line {
		switch r {
		case '{', '[':
			open = true
		case '?':
			if open {
				return col
			}
		}
		col++
	}
	return 0
}

// firstColumn is the column of the first character that is not a space, so
// the caret lands on the text of the line rather than in its indentation.
func firstColumn(line string) int {
	col := 1
	for _, r := range line {
		if r != ' ' {
			return col
		}
		col++
	}
	return 1
}

// checkVersion reports a missing or unsupported parley: key. It returns
// false when the flow is written for a newer language this build cannot
// read, so nothing else is checked.
func (l *loader) checkVersion(root *yaml.Node) bool {
	l.suppressed["parley"] = true
	k, v := lookup(root, "parley")
	if k == nil {
		d := l.add(diag.SpecVersion, l.src.nodeRange(root), "missing \"parley: 1\" at the top: every flow says which version of the flow language it is written in")
		d.Suggestion = `add "parley: 1" as the first line`
		return true
	}
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" {
		l.add(diag.SpecVersion, l.src.nodeRange(v), "\"parley\" must be the language version 1, not %s", kindWords(v))
		return true
	}
	n, err := strconv.Atoi(v.Value)
	switch {
	case err != nil || n < 1:
		l.add(diag.SpecVersion, l.src.nodeRange(v), "\"parley\" must be %d, the version of the flow language", flow.SpecVersion)
	case n > flow.SpecVersion:
		l.add(diag.SpecVersion, l.src.nodeRange(v), "this flow is written for version %d of the flow language, but this parley understands version %d only: upgrade parley", n, flow.SpecVersion)
		return false
	}
	return true
}

// lookup returns the first key and value named name in mapping m.
func lookup(m *yaml.Node, name string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == name && m.Content[i].Kind == yaml.ScalarNode {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// kindWords names what a node holds, in the author's words.
func kindWords(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a block of keys"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "the number " + n.Value
	case "!!bool":
		return n.Value
	case "!!null":
		return "nothing"
	}
	if len([]rune(n.Value)) > 40 {
		return "text"
	}
	return strconv.Quote(n.Value)
}

var standardTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true,
	"!!null": true, "!!map": true, "!!seq": true, "!!timestamp": true,
}

// convert checks the YAML-level rules on n and returns it as a value
// jsonschema accepts. Parts that break a rule are reported once, left out
// of the instance or replaced by nil, and their pointers suppressed so the
// schema does not report them a second time.
func (l *loader) convert(n *yaml.Node, path []string) any {
	if n.Anchor != "" {
		l.add(diag.AliasNotAllowed, l.src.nodeRange(n), "anchors (&%s) are not allowed: write the value out in full wherever it is needed", n.Anchor)
	}
	if n.Kind != yaml.AliasNode && n.Style&yaml.TaggedStyle != 0 && !standardTags[n.Tag] && !standardTags[n.ShortTag()] {
		l.add(diag.CustomTag, l.src.nodeRange(n), "tags such as %s are not allowed in a flow: remove it", n.Tag)
		l.suppress(path)
		return nil
	}
	switch n.Kind {
	case yaml.AliasNode:
		l.add(diag.AliasNotAllowed, l.src.nodeRange(n), "aliases (*%s) are not allowed: write the value out in full", n.Value)
		l.suppress(path)
		return nil
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		first := make(map[string]*yaml.Node, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style == 0 {
				l.add(diag.AliasNotAllowed, l.src.nodeRange(k), "merge keys (<<) are not allowed: write the keys out in full")
				continue
			}
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				what := kindWords(k)
				if k.Kind == yaml.ScalarNode {
					l.add(diag.NonTextKey, l.src.nodeRange(k), "key %s is read as %s, not as a name: put it in quotes (\"%s\":)", k.Value, what, k.Value)
				} else if n.Style&yaml.FlowStyle != 0 && unquotedTemplate(l.src.line(n.Line)) == n.Column {
					// say: {{ name }} reads as a block inside a block.
					l.add(diag.NonTextKey, l.src.nodeRange(n), "%s", quoteTemplate)
					l.suppress(path)
					return nil
				} else {
					l.add(diag.NonTextKey, l.src.nodeRange(k), "a key must be a word, not %s", what)
				}
				continue
			}
			if p, dup := first[k.Value]; dup {
				d := l.add(diag.DuplicateKey, l.src.nodeRange(k), "key %q appears twice%s: it is first defined at line %d", k.Value, where(path), p.Line)
				d.Detail = "YAML would silently keep only one of the two values."
				continue
			}
			first[k.Value] = k
			m[k.Value] = l.convert(v, append(path[:len(path):len(path)], k.Value))
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = l.convert(c, append(path[:len(path):len(path)], strconv.Itoa(i)))
		}
		return s
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!timestamp":
			return n.Value
		case "!!null":
			return nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err == nil {
				return b
			}
		case "!!int":
			var v any
			if err := n.Decode(&v); err == nil {
				switch v.(type) {
				case int, int64, uint64:
					return v
				}
			}
		case "!!float":
			var f float64
			if err := n.Decode(&f); err == nil {
				if math.IsInf(f, 0) || math.IsNaN(f) {
					l.add(diag.InvalidValue, l.src.nodeRange(n), "%s is not a number a flow can use: write a plain number, or put it in quotes if it is text", n.Value)
					l.suppress(path)
					return nil
				}
				return f
			}
		}
		return n.Value
	}
	l.suppress(path)
	return nil
}

func (l *loader) suppress(path []string) { l.suppressed[strings.Join(path, "/")] = true }

// isSuppressed reports whether path or one of its parents was reported by
// a YAML-level check.
func (l *loader) isSuppressed(path []string) bool {
	for i := len(path); i >= 0; i-- {
		if l.suppressed[strings.Join(path[:i], "/")] {
			return true
		}
	}
	return false
}

// checkUTF8 reports the first byte that is not UTF-8 at its own line and
// column. yaml.v3 reads the file in blocks and reports such bytes on the
// first line of the block, which is rarely where they are.
func (l *loader) checkUTF8() bool {
	line, col := l.src.badUTF8()
	if line == 0 {
		return true
	}
	d := l.add(diag.YAMLSyntax, l.src.at(line, col), "the file is not valid UTF-8 text here: save it as UTF-8 (most editors have an encoding setting), or retype this character")
	d.Detail = "a flow is read as UTF-8; this byte is not part of any UTF-8 character"
	return false
}
