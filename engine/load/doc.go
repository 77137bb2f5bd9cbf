// Package load turns flow files into a flow.Flow AST with positions.
//
// It refuses files over MaxFileBytes before reading them as YAML, reports
// bytes that are not UTF-8 and tabs used as indentation at their own line
// and column, then parses YAML into yaml.Node (never into structs, so every value keeps
// its line and column), refuses what authors cannot follow (duplicate keys,
// anchors and aliases, custom tags, several documents in one file), checks
// the language version, validates the shape against the embedded JSON
// Schema and translates every schema error into a diagnostic at the exact
// key or value, in the author's words. It then builds whatever is
// well-formed, so later stages can report more problems in the same run.
//
// load imports diag, flow and schemas; it must not import validate,
// compile, runtime or vault. Entry points: File and FS.
package load
