package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// rule is one check of the catalogue and the rules it reports.
type rule struct {
	ids []diag.RuleID
	run func(l *linter)
}

func one(id diag.RuleID, run func(l *linter)) rule { return rule{[]diag.RuleID{id}, run} }

// catalogue lists the rules this package runs, in ID order.
var catalogue = []rule{
	one(diag.DeadEnd, checkDeadEnds),
	one(diag.MaybeUnset, checkMaybeUnset),
	one(diag.HandoffTimeoutLoops, checkHandoffTimeout),
	one(diag.ProhibitedData, checkProhibited),
	one(diag.UndeclaredSpecial, checkUndeclaredSpecial),
	one(diag.MarketingNeedsConsent, checkMarketing),
	one(diag.RetentionOverPolicy, checkRetention),
	one(diag.TemplateInURL, checkTemplateInURL),
	one(diag.ConsentUndescribed, checkConsentDescription),
	one(diag.UnusedField, checkUnusedFields),
	one(diag.SensitiveEcho, checkSensitiveEcho),
	one(diag.IntegrationNotAllowed, checkIntegrationDomains),
	one(diag.OptionsAsText, checkOptionCount),
	{[]diag.RuleID{diag.ButtonTitleCut, diag.ListRowCut}, checkOptionTitles},
	one(diag.MessageTooLong, checkMessageLength),
	one(diag.NoHumanRoute, checkHumanRoute),
	one(diag.LinkNotAllowed, checkLinks),
}

// Referenced are rules engine/check already reports that belong to the
// catalogue's subject (privacy, flow graph): lint does not check them a
// second time, but documents them and keeps a golden case for each.
var Referenced = []diag.RuleID{
	diag.Unreachable, diag.LoopWithoutWait, diag.NoEnd,
	diag.SendsOtherPurpose, diag.InsecureURL, diag.SecretInFlow, diag.SpecialNeedsConsent,
	diag.TemplateParam, diag.MarketingTemplate,
}

// Catalogue returns the IDs of every rule of the catalogue: those this
// package checks, the policy and suppression rules, and Referenced.
func Catalogue() []diag.RuleID {
	ids := []diag.RuleID{diag.InvalidPolicy, diag.SuppressionWithoutReason, diag.UnusedSuppression}
	for _, r := range catalogue {
		ids = append(ids, r.ids...)
	}
	ids = append(ids, Referenced...)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Suppressible reports whether a finding of rule id may be suppressed or
// have its severity changed by a policy: lint's own rules and warnings may,
// errors that stop a flow from running (YAML, schema, references,
// expressions) may not, since `parley serve` would refuse the flow anyway.
func Suppressible(id diag.RuleID) bool {
	switch id {
	case diag.InvalidPolicy, diag.SuppressionWithoutReason, diag.UnusedSuppression:
		return false
	}
	for _, r := range catalogue {
		if slices.Contains(r.ids, id) {
			return true
		}
	}
	return id.Severity() != diag.Error
}

// linter carries one flow under check and what the rules share.
type linter struct {
	f      *flow.Flow
	pol    *Policy
	ds     diag.Diagnostics
	langs  []string
	savers map[string][]*flow.Step // field name → the ask steps that save it
	// compiled is true when check found no errors: rules that follow the
	// flow graph step by step wait for a flow that runs, instead of adding
	// follow-on findings to its errors.
	compiled bool
	classes  map[*flow.Field]*fieldClass
}

func (l *linter) add(rule diag.RuleID, r diag.Range, format string, args ...any) *diag.Diagnostic {
	return l.ds.Add(rule, r, format, args...)
}

// Flow returns every diagnostic of one checked file under policy p: what
// engine/check found plus the catalogue, with the policy's severities and
// the file's suppressions applied, sorted. A file that could not be parsed
// at all gets check's diagnostics only.
func Flow(r *check.Result, p *Policy) diag.Diagnostics {
	if p == nil {
		p = DefaultPolicy()
	}
	ds := slices.Clone(r.Diags)
	if r.Flow != nil {
		l := &linter{f: r.Flow, pol: p, savers: map[string][]*flow.Step{}, classes: map[*flow.Field]*fieldClass{}, compiled: r.Program != nil}
		for _, lg := range r.Flow.Languages {
			l.langs = append(l.langs, lg.Value)
		}
		if len(l.langs) == 0 {
			l.langs = []string{r.Flow.DefaultLanguage()}
		}
		for _, s := range r.Flow.Steps {
			if s.Save.IsSet() && s.Ask != nil {
				l.savers[s.Save.Value] = append(l.savers[s.Save.Value], s)
			}
		}
		for _, ru := range catalogue {
			ru.run(l)
		}
		ds.Extend(l.ds)
	}
	ds = applyPolicy(ds, p)
	ds = applySuppressions(r.File.Name, r.File.Src, ds)
	ds.Sort()
	return ds
}

func applyPolicy(ds diag.Diagnostics, p *Policy) diag.Diagnostics {
	out := ds[:0]
	for _, d := range ds {
		if s, ok := p.Severity[d.Rule]; ok {
			if s.Off {
				continue
			}
			d.Severity = s.Level
		}
		out = append(out, d)
	}
	return out
}

// Report is the outcome of linting a set of files.
type Report struct {
	Diags   diag.Diagnostics
	sources map[string][]byte
}

// Source returns the bytes of a linted flow or policy file, for rendering
// diagnostics.
func (r *Report) Source(name string) []byte { return r.sources[name] }

// Run lints every checked file under the policy file found at or above its
// directory (the defaults when there is none). Mistakes in a policy file are
// reported once, at their line in that file.
func Run(set *check.Set) (*Report, error) {
	rep := &Report{sources: map[string][]byte{}}
	byDir := map[string]*Policy{}
	byPath := map[string]*Policy{}
	for _, r := range set.Results {
		rep.sources[r.File.Name] = r.File.Src
		dir := filepath.Dir(r.File.Name)
		p, ok := byDir[dir]
		if !ok {
			path, err := FindPolicy(dir)
			if err != nil {
				return nil, err
			}
			switch {
			case path == "":
				p = DefaultPolicy()
			case byPath[path] != nil:
				p = byPath[path]
			default:
				src, err := os.ReadFile(path)
				if err != nil {
					return nil, fmt.Errorf("read policy: %w", err)
				}
				name := path
				if wd, err := os.Getwd(); err == nil && !filepath.IsAbs(r.File.Name) {
					if rel, err := filepath.Rel(wd, path); err == nil {
						name = filepath.ToSlash(rel)
					}
				}
				var pds diag.Diagnostics
				p, pds = ParsePolicy(name, src)
				rep.sources[name] = src
				rep.Diags.Extend(pds)
				byPath[path] = p
			}
			byDir[dir] = p
		}
		rep.Diags.Extend(Flow(r, p))
	}
	rep.Diags.Extend(sharedIDs(set.Results))
	rep.Diags.Sort()
	return rep, nil
}

// sharedIDs reports a flow whose id another flow file of the same
// directory already uses: parley serve loads a directory and refuses two
// flows with one id, so a copied flow whose id was not changed would lint
// clean and then stop the server from starting.
func sharedIDs(results []*check.Result) diag.Diagnostics {
	var ds diag.Diagnostics
	first := map[[2]string]string{} // directory and id: the first file
	for _, r := range results {
		if r.Flow == nil || r.Flow.ID.Value == "" {
			continue
		}
		key := [2]string{filepath.Dir(r.File.Name), r.Flow.ID.Value}
		if prev, dup := first[key]; dup {
			AddSharedID(&ds, r, filepath.Base(prev))
			continue
		}
		first[key] = r.File.Name
	}
	return ds
}

// AddSharedID adds the error of a flow whose id the flow file other (a
// name in the same directory) already uses.
func AddSharedID(ds *diag.Diagnostics, r *check.Result, other string) {
	ds.Add(diag.InvalidValue, r.Flow.ID.Range, "flow id %q is already used by %s in the same directory: parley serve refuses two flows with one id; give this flow an id of its own",
		r.Flow.ID.Value, other)
}
