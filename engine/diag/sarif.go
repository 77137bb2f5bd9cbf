package diag

import (
	"io"
	"net/url"
	"strings"
)

// SARIFVersion is the SARIF version WriteSARIF writes.
const SARIFVersion = "2.1.0"

// sarifSchemaURI is the schema GitHub code scanning and editors recognise.
const sarifSchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"

// RulesDocURL is where the rule catalogue is published; each rule's help
// link is this URL with the lower-case rule ID as the anchor.
const RulesDocURL = "https://github.com/parleyhq/parley/blob/main/docs/rules.md"

// SARIFTool names the tool in a SARIF log.
type SARIFTool struct {
	Name    string // "parley"
	Version string // the binary's version, or "devel"
	// Rules are the rules described in tool.driver.rules; nil means every
	// rule in the table (Rules). A diagnostic whose rule is not listed is
	// still reported, with its rule ID only.
	Rules []Rule
}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifToolJSON             `json:"tool"`
	ColumnKind         string                    `json:"columnKind"`
	OriginalURIBaseIDs map[string]sarifBaseURI   `json:"originalUriBaseIds"`
	Artifacts          []sarifArtifact           `json:"artifacts"`
	Results            []sarifResult             `json:"results"`
	Properties         map[string]map[string]int `json:"properties,omitempty"`
}

type sarifBaseURI struct {
	Description sarifText `json:"description"`
}

type sarifToolJSON struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	HelpURI              string         `json:"helpUri"`
	DefaultConfiguration sarifRuleLevel `json:"defaultConfiguration"`
}

type sarifRuleLevel struct {
	Level string `json:"level"`
}

type sarifArtifact struct {
	Location sarifArtifactLocation `json:"location"`
}

type sarifArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
	Index     *int   `json:"index,omitempty"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex *int            `json:"ruleIndex,omitempty"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           sarifRegion           `json:"region"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
	EndLine     int `json:"endLine,omitempty"`
	EndColumn   int `json:"endColumn,omitempty"`
}

// sarifLevel maps a severity to a SARIF result level.
func sarifLevel(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}

// artifactLocation turns a path as shown to the author into a URI: a
// relative path is relative to %SRCROOT%, an absolute one a file: URI.
func artifactLocation(name string) sarifArtifactLocation {
	p := strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(p, "/") {
		return sarifArtifactLocation{URI: (&url.URL{Scheme: "file", Path: p}).String()}
	}
	return sarifArtifactLocation{URI: (&url.URL{Path: p}).String(), URIBaseID: "%SRCROOT%"}
}

// RuleHelpURL returns the link to a rule's entry in the catalogue.
func RuleHelpURL(id RuleID) string {
	return RulesDocURL + "#" + strings.ToLower(string(id))
}

// WriteSARIF writes a lint run as a SARIF 2.1.0 log with one run:
// tool.driver.rules from the rule table (summary as the short and full
// description, help text and link), one artifact per checked file, and one
// result per diagnostic with its rule, level, message and region. Columns
// count Unicode code points, as everywhere in Parley, and the run says so
// (columnKind), so that no consumer assumes UTF-16 units. Paths are
// relative to %SRCROOT%, the directory lint ran in.
func WriteSARIF(w io.Writer, tool SARIFTool, files []string, ds Diagnostics) error {
	rules := tool.Rules
	if rules == nil {
		rules = Rules()
	}
	name := tool.Name
	if name == "" {
		name = "parley"
	}
	run := sarifRun{
		Tool: sarifToolJSON{Driver: sarifDriver{
			Name: name, Version: tool.Version, InformationURI: "https://github.com/parleyhq/parley",
			Rules: make([]sarifRule, 0, len(rules)),
		}},
		ColumnKind: "unicodeCodePoints",
		OriginalURIBaseIDs: map[string]sarifBaseURI{
			"%SRCROOT%": {Description: sarifText{Text: "The directory parley lint ran in."}},
		},
		Artifacts: make([]sarifArtifact, 0, len(files)),
		Results:   make([]sarifResult, 0, len(ds)),
	}
	ruleIndex := map[RuleID]int{}
	for i, r := range rules {
		ruleIndex[r.ID] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID:                   string(r.ID),
			Name:                 r.Slug,
			ShortDescription:     sarifText{Text: r.Summary},
			FullDescription:      sarifText{Text: r.Summary},
			Help:                 sarifText{Text: r.Help, Markdown: "**" + r.Summary + "**\n\n" + r.Help},
			HelpURI:              RuleHelpURL(r.ID),
			DefaultConfiguration: sarifRuleLevel{Level: sarifLevel(r.Severity)},
		})
	}
	fileIndex := map[string]int{}
	addFile := func(f string) int {
		if i, ok := fileIndex[f]; ok {
			return i
		}
		i := len(run.Artifacts)
		fileIndex[f] = i
		run.Artifacts = append(run.Artifacts, sarifArtifact{Location: artifactLocation(f)})
		return i
	}
	for _, f := range files {
		addFile(f)
	}
	for _, d := range ds {
		fi := addFile(d.Subject.Filename)
		msg := oneLine(MaskSecrets(d.Summary))
		if d.Suggestion != "" {
			msg += " (" + oneLine(MaskSecrets(d.Suggestion)) + ")"
		}
		if d.Detail != "" {
			msg += ". " + oneLine(MaskSecrets(d.Detail))
		}
		loc := artifactLocation(d.Subject.Filename)
		loc.Index = &fi
		res := sarifResult{
			RuleID:  string(d.Rule),
			Level:   sarifLevel(d.Severity),
			Message: sarifText{Text: msg},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: loc,
				Region:           sarifRegionOf(d.Subject),
			}}},
		}
		if ri, ok := ruleIndex[d.Rule]; ok {
			res.RuleIndex = &ri
		}
		run.Results = append(run.Results, res)
	}
	return writeIndentedJSON(w, sarifLog{Schema: sarifSchemaURI, Version: SARIFVersion, Runs: []sarifRun{run}})
}

// sarifRegionOf converts a range; SARIF lines and columns are 1-based and
// its end column is exclusive, like ours. A point has no end.
func sarifRegionOf(r Range) sarifRegion {
	reg := sarifRegion{StartLine: max(1, r.Start.Line), StartColumn: max(1, r.Start.Column)}
	if r.End.Line > 0 && (r.End.Line > reg.StartLine || r.End.Column > reg.StartColumn) {
		reg.EndLine, reg.EndColumn = r.End.Line, max(1, r.End.Column)
	}
	return reg
}
