package validate

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// Stage is one named group of checks.
type Stage struct {
	Name string
	Run  func(c *Checker)
}

// Stages are the checks Flow runs, in order. References come first so the
// later stages can rely on the indexes they build.
var Stages = []Stage{
	{"references", checkReferences},
	{"steps", checkSteps},
	{"texts", checkTexts},
	{"privacy", checkPrivacy},
	{"templates", checkTemplates},
	{"secrets", checkSecrets},
	{"graph", checkGraph},
}

// Checker carries the flow under check, indexes shared by the stages and
// the diagnostics found so far.
type Checker struct {
	Flow  *flow.Flow
	Diags diag.Diagnostics

	steps    map[string]*flow.Step
	stepIDs  []string
	fields   map[string]*flow.Field
	purposes map[string]*flow.Purpose
	langs    []string
}

// Flow runs every stage on f and returns the diagnostics, sorted.
func Flow(f *flow.Flow) diag.Diagnostics {
	if f == nil {
		return nil
	}
	c := newChecker(f)
	for _, s := range Stages {
		s.Run(c)
	}
	c.Diags.Sort()
	return c.Diags
}

// Graph runs only the flow-graph checks (unreachable steps, loops that never
// wait, no end) on f. They rely on nothing but the steps, so the linter runs
// them on a flow whose other parts have errors too.
func Graph(f *flow.Flow) diag.Diagnostics {
	if f == nil {
		return nil
	}
	c := newChecker(f)
	checkGraph(c)
	c.Diags.Sort()
	return c.Diags
}

func newChecker(f *flow.Flow) *Checker {
	c := &Checker{
		Flow:     f,
		steps:    make(map[string]*flow.Step, len(f.Steps)),
		fields:   make(map[string]*flow.Field, len(f.Fields)),
		purposes: make(map[string]*flow.Purpose, len(f.Purposes)),
	}
	for _, s := range f.Steps {
		if _, dup := c.steps[s.ID.Value]; !dup {
			c.steps[s.ID.Value] = s
			c.stepIDs = append(c.stepIDs, s.ID.Value)
		}
	}
	for _, fd := range f.Fields {
		c.fields[fd.Name.Value] = fd
	}
	for _, p := range f.Purposes {
		c.purposes[p.Name.Value] = p
	}
	for _, l := range f.Languages {
		if langCode.MatchString(l.Value) && !contains(c.langs, l.Value) {
			c.langs = append(c.langs, l.Value)
		}
	}
	if len(c.langs) == 0 {
		c.langs = []string{f.DefaultLanguage()}
	}
	return c
}

func (c *Checker) add(rule diag.RuleID, r diag.Range, format string, args ...any) *diag.Diagnostic {
	return c.Diags.Add(rule, r, format, args...)
}

// --- references ------------------------------------------------------------

func checkReferences(c *Checker) {
	f := c.Flow
	c.stepRef(f.Start, "start")
	c.stepRef(f.OnHandoffTimeout, "on_handoff_timeout")
	for _, p := range f.Purposes {
		c.stepRef(p.OnDecline, fmt.Sprintf("on_decline of purpose %q", p.Name.Value))
	}
	for _, s := range f.Steps {
		in := fmt.Sprintf(" in step %q", s.ID.Value)
		c.stepRef(s.Next, "next"+in)
		c.stepRef(s.Then, "then"+in)
		c.stepRef(s.Else, "else"+in)
		c.stepRef(s.OnFail, "on_fail"+in)
		for i, o := range s.Options {
			c.stepRef(o.Next, fmt.Sprintf("next of option %d%s", i+1, in))
		}
		for _, fs := range s.Forget {
			if c.fields[fs.Value] == nil {
				d := c.add(diag.UnknownField, fs.Range, "step %q forgets %q, which is not declared under fields", s.ID.Value, fs.Value)
				d.Suggestion = diag.DidYouMean(fs.Value, c.fieldNames())
			}
		}
		c.purposeRef(s.Withdraw, fmt.Sprintf("withdraw in step %q", s.ID.Value))
		if s.Save.IsSet() && c.fields[s.Save.Value] == nil {
			d := c.add(diag.UnknownField, s.Save.Range, "step %q saves %q, which is not declared under fields", s.ID.Value, s.Save.Value)
			d.Suggestion = diag.DidYouMean(s.Save.Value, c.fieldNames())
		}
		if s.Call.IsSet() && f.IntegrationByName(s.Call.Value) == nil {
			var names []string
			for _, in := range f.Integrations {
				names = append(names, in.Name.Value)
			}
			d := c.add(diag.UnknownIntegration, s.Call.Range, "step %q calls %q, which is not declared under integrations", s.ID.Value, s.Call.Value)
			d.Suggestion = diag.DidYouMean(s.Call.Value, names)
		}
	}
	for _, fd := range f.Fields {
		c.purposeRef(fd.Purpose, fmt.Sprintf("field %q", fd.Name.Value))
	}
	for _, in := range f.Integrations {
		c.purposeRef(in.Purpose, fmt.Sprintf("integration %q", in.Name.Value))
	}
}

func (c *Checker) stepRef(s flow.Scalar, what string) {
	if !s.IsSet() || c.steps[s.Value] != nil {
		return
	}
	d := c.add(diag.UnknownStep, s.Range, "%s goes to %q, but there is no step with that name", what, s.Value)
	d.Suggestion = diag.DidYouMean(s.Value, c.stepIDs)
}

func (c *Checker) purposeRef(s flow.Scalar, what string) {
	if !s.IsSet() || c.purposes[s.Value] != nil {
		return
	}
	var names []string
	for _, p := range c.Flow.Purposes {
		names = append(names, p.Name.Value)
	}
	d := c.add(diag.UnknownPurpose, s.Range, "%s has purpose %q, which is not declared under purposes", what, s.Value)
	d.Suggestion = diag.DidYouMean(s.Value, names)
}

func (c *Checker) fieldNames() []string {
	names := make([]string, 0, len(c.Flow.Fields))
	for _, fd := range c.Flow.Fields {
		names = append(names, fd.Name.Value)
	}
	return names
}

// --- step shape ------------------------------------------------------------

func checkSteps(c *Checker) {
	for _, s := range c.Flow.Steps {
		c.stepShape(s)
		c.stepOptions(s)
	}
}

func (c *Checker) stepShape(s *flow.Step) {
	at := s.ID.Range
	name := s.ID.Value
	kinds := s.Kinds
	if len(kinds) > 1 {
		c.add(diag.StepShape, at, "step %q has both %s: a step does one thing, so split it into %d steps", name, strings.Join(kinds, " and "), len(kinds))
	}
	if len(kinds) == 0 && !s.End.IsSet() && !s.Next.IsSet() && !s.Save.IsSet() && !s.Then.IsSet() && !s.Else.IsSet() {
		all := make([]string, len(flow.StepKinds))
		for i, k := range flow.StepKinds {
			all[i] = k.Name
		}
		c.add(diag.StepShape, at, "step %q does nothing: give it %s or %s", name, strings.Join(all[:len(all)-1], ", "), all[len(all)-1])
	}
	for _, key := range s.Keys {
		owners := flow.KindOwners(key)
		if len(owners) == 0 || slices.ContainsFunc(owners, func(k string) bool { return slices.Contains(kinds, k) }) {
			continue
		}
		c.add(diag.StepShape, at, "step %q has %s but no %s: %s", name, key, strings.Join(owners, " or "), flow.KeyHint(key))
	}
	for i := range flow.StepKinds {
		if slices.Contains(kinds, flow.StepKinds[i].Name) {
			c.kindShape(s, &flow.StepKinds[i])
		}
	}
	if s.End.IsSet() && s.End.Value && s.Next.IsSet() {
		c.add(diag.StepShape, at, "step %q has both end: true and next: remove one", name)
	}
}

// kindShape checks the keys a step of kind must or must not have.
func (c *Checker) kindShape(s *flow.Step, kind *flow.StepKind) {
	at, name := s.ID.Range, s.ID.Value
	for _, key := range kind.Required {
		if !s.Has(key) {
			c.add(diag.StepShape, at, "step %q has %s but no %s: %s", name, kind.Name, key, kind.Hints["no "+key])
		}
	}
	if kind.NoNext && s.Next.IsSet() {
		c.add(diag.StepShape, at, "step %q %s", name, kind.Hints["next"])
	}
	if kind.NoEnd && s.End.IsSet() && s.End.Value {
		c.add(diag.StepShape, at, "step %q has both end: true and %s: end the conversation in the steps the branch goes to", name, kind.Name)
	}
	if check := kindChecks[kind.Name]; check != nil {
		check(c, s)
	}
}

// kindChecks are the checks only one kind of step needs, by kind name.
var kindChecks = map[string]func(*Checker, *flow.Step){
	flow.KindAsk:      (*Checker).askShape,
	flow.KindWithdraw: (*Checker).withdrawShape,
	flow.KindRemind:   (*Checker).remindShape,
}

// askShape checks that a question with options either saves the answer or
// routes: options with neither would drop the pick and go on regardless.
func (c *Checker) askShape(s *flow.Step) {
	c.optionsFrom(s)
	if !s.Save.IsSet() && len(s.Options) > 0 && !routes(s) {
		c.add(diag.StepShape, s.ID.Range, "step %q offers options but neither saves the answer nor says where each option goes: add save: with a choice field, or give each option a next:", s.ID.Value)
	}
}

// routes reports whether some option of s says where it goes.
func routes(s *flow.Step) bool {
	for _, o := range s.Options {
		if o.Next.IsSet() {
			return true
		}
	}
	return false
}

// withdrawShape checks that a withdraw step names a purpose that rests on
// consent: only a consent can be withdrawn.
func (c *Checker) withdrawShape(s *flow.Step) {
	p := c.purposes[s.Withdraw.Value]
	if !s.Withdraw.IsSet() || p == nil || !p.Basis.IsSet() || p.Basis.Value == flow.BasisConsent {
		return
	}
	c.add(diag.InvalidValue, s.Withdraw.Range, "step %q withdraws the consent for %q, but that purpose rests on %s, not on consent: only a consent can be withdrawn; use forget: to drop its answers instead", s.ID.Value, s.Withdraw.Value, p.Basis.Value)
}

func (c *Checker) stepOptions(s *flow.Step) {
	seen := map[string]bool{}
	for _, o := range s.Options {
		if !o.ID.IsSet() {
			continue
		}
		if seen[o.ID.Value] {
			c.add(diag.InvalidValue, o.ID.Range, "option id %q is used twice in step %q: each option needs its own id", o.ID.Value, s.ID.Value)
		}
		seen[o.ID.Value] = true
	}
	if !s.Save.IsSet() || s.Ask == nil {
		return
	}
	fd := c.fields[s.Save.Value]
	if fd == nil || !fd.Type.IsSet() {
		return
	}
	switch {
	case len(s.Options) > 0 && fd.Type.Value != flow.TypeChoice:
		c.add(diag.OptionsNotChoice, s.Save.Range, "step %q offers options but saves %q, a %s field: make the field type choice, or remove the options", s.ID.Value, fd.Name.Value, fd.Type.Value)
	case len(s.Options) == 0 && fd.Type.Value == flow.TypeChoice:
		c.add(diag.ChoiceNoOptions, s.Save.Range, "step %q saves the choice field %q but offers no options: add options with an id and a title each", s.ID.Value, fd.Name.Value)
	}
}

// --- texts -----------------------------------------------------------------

func checkTexts(c *Checker) {
	f := c.Flow
	for _, p := range f.Purposes {
		c.text(p.Description, fmt.Sprintf("\"description\" of purpose %q", p.Name.Value), true)
	}
	for _, fd := range f.Fields {
		c.text(fd.Label, fmt.Sprintf("\"label\" of field %q", fd.Name.Value), true)
	}
	if len(c.langs) > 1 {
		untranslatedIDs(c)
	}
	for _, k := range f.Keywords {
		// Built-in words cover languages left out here, so only the codes
		// are checked.
		c.text(k.Words, fmt.Sprintf("keyword %q", k.Right.Value), false)
	}
	for _, s := range f.Steps {
		in := fmt.Sprintf(" in step %q", s.ID.Value)
		c.text(s.Say, `"say"`+in, true)
		c.text(s.Ask, `"ask"`+in, true)
		c.text(s.Retry, `"retry"`+in, true)
		c.text(s.Handoff, `"handoff"`+in, true)
		for i, o := range s.Options {
			c.text(o.Title, fmt.Sprintf(`"title" of option %d%s`, i+1, in), true)
		}
	}
}

// untranslatedIDs reports, in a flow with several languages, the fields the
// engine would have to name to customers by their ids: notices and MY DATA
// use labels instead. (Purposes need a description anyway.)
func untranslatedIDs(c *Checker) {
	for _, fd := range c.Flow.Fields {
		if fd.Label == nil && fd.Purpose.IsSet() {
			c.add(diag.MissingLanguage, fd.Name.Range, "field %q has no label, so customers would read its id in notices and MY DATA: add label: with a text for each of %s", fd.Name.Value, strings.Join(c.langs, ", "))
		}
	}
}

var langCode = regexp.MustCompile(`^[a-z]{2}$`)

func (c *Checker) text(t *flow.Text, what string, complete bool) {
	if t == nil || t.Plain.IsSet() || len(t.ByLang) == 0 {
		return
	}
	have := map[string]bool{}
	for _, lt := range t.ByLang {
		have[lt.Lang.Value] = true
		if !langCode.MatchString(lt.Lang.Value) {
			continue // load reported the malformed code
		}
		if !contains(c.langs, lt.Lang.Value) {
			// No did-you-mean: two-letter codes are all one edit apart.
			c.add(diag.UnknownLanguage, lt.Lang.Range, "%s has a %q translation, but %q is not in languages", what, lt.Lang.Value, lt.Lang.Value)
		}
	}
	if !complete {
		return
	}
	var missing []string
	for _, l := range c.langs {
		if !have[l] {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		c.add(diag.MissingLanguage, t.Range, "%s has no %s translation: add %s, or write one text for every language", what, strings.Join(missing, ", "), quoteAll(missing))
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func quoteAll(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = x + ": …"
	}
	return strings.Join(q, " and ")
}

// --- privacy ---------------------------------------------------------------

// specials are the special categories of GDPR art. 9 and 10, as the
// schema's enum for special lists them.
var specials = []string{"health", "religion", "ethnicity", "politics", "sexual_orientation", "biometric", "genetic", "trade_union", "criminal"}

var retentionForm = regexp.MustCompile(`^([1-9][0-9]*[mhdwy]|session|transient)$`)

func checkPrivacy(c *Checker) {
	f := c.Flow
	for _, fd := range f.Fields {
		if fd.Retention.IsSet() && retentionForm.MatchString(fd.Retention.Value) {
			// The form was checked by the schema; ParseRetention adds the
			// limits (no more than 100 years).
			if _, err := flow.ParseRetention(fd.Retention.Value); err != nil {
				c.add(diag.InvalidValue, fd.Retention.Range, "retention of field %q: %v", fd.Name.Value, err)
			}
		}
		if fd.Special.IsSet() && contains(specials, fd.Special.Value) {
			if p := c.purposes[fd.Purpose.Value]; p != nil && contains(flow.Bases, p.Basis.Value) && p.Basis.Value != flow.BasisConsent {
				c.add(diag.SpecialNeedsConsent, fd.Special.Range, "field %q holds %s data, so its purpose %q needs basis consent, not %s", fd.Name.Value, strings.ReplaceAll(fd.Special.Value, "_", " "), p.Name.Value, p.Basis.Value)
			}
		}
		if fd.Type.IsSet() {
			c.fieldLimits(fd)
		}
	}
	if h := f.Handoff; h != nil {
		c.httpsAddress(h.Notify, "notify of handoff", "notify of handoff")
	}
	for _, in := range f.Integrations {
		c.httpsURL(in.URL, "url", in.Name.Value)
		c.httpsURL(in.OnErase, "on_erase", in.Name.Value)
		c.httpsURL(in.OnStop, "on_stop", in.Name.Value)
		if d, err := time.ParseDuration(in.Timeout.Value); err == nil && d > time.Minute {
			c.add(diag.InvalidValue, in.Timeout.Range, "timeout of integration %q is %s, but Parley waits at most 1m for an integration: write 1m or less", in.Name.Value, in.Timeout.Value)
		}
		for _, s := range in.Sends {
			fd := c.fields[s.Value]
			switch {
			case fd == nil:
				d := c.add(diag.UnknownSendsField, s.Range, "integration %q sends %q, which is not declared under fields", in.Name.Value, s.Value)
				d.Suggestion = diag.DidYouMean(s.Value, c.fieldNames())
			case in.Purpose.IsSet() && fd.Purpose.IsSet() && fd.Purpose.Value != in.Purpose.Value && c.purposes[in.Purpose.Value] != nil:
				c.add(diag.SendsOtherPurpose, s.Range, "integration %q is for purpose %q but sends %q, which was collected for %q", in.Name.Value, in.Purpose.Value, s.Value, fd.Purpose.Value)
			case fd.Retention.Value == "transient":
				// A transient field is never stored but may be sent in the
				// turn it was given; nothing to report.
			}
		}
		c.receives(in)
	}
}

// httpsURL checks that an address of integration name (its url, on_erase or
// on_stop) is an https web address.
func (c *Checker) httpsURL(s flow.Scalar, key, name string) {
	what := fmt.Sprintf("integration %q", name)
	if key != "url" {
		what = fmt.Sprintf("%s of integration %q", key, name)
	}
	c.httpsAddress(s, fmt.Sprintf("%s of integration %q", key, name), what)
}

// httpsAddress checks that s is an https web address; where names the key
// in a finding about its form, what in one about its scheme.
func (c *Checker) httpsAddress(s flow.Scalar, where, what string) {
	if !s.IsSet() {
		return
	}
	u, err := url.Parse(s.Value)
	switch {
	case err != nil || u.Host == "":
		c.add(diag.InvalidValue, s.Range, "%s is not a web address: write it as https://host/path", where)
	case u.Scheme != "https":
		d := c.add(diag.InsecureURL, s.Range, "%s uses %s: personal data must travel encrypted, so use https", what, u.Scheme)
		if u.Scheme == "http" {
			d.Suggestion = `did you mean "` + httpsWithoutSecrets(u) + `"?`
		}
	}
}

// httpsWithoutSecrets is u with https and without what PARLEY-304 tells
// the author to move into secret_env (user info, secret query parameters),
// so the suggestion never repeats a secret and applying it removes it.
func httpsWithoutSecrets(u *url.URL) string {
	v := *u
	v.Scheme, v.User = "https", nil
	if q := v.Query(); len(q) > 0 {
		for k := range q {
			if diag.IsSecretParam(k) {
				q.Del(k)
			}
		}
		v.RawQuery = q.Encode()
	}
	return v.String()
}

func (c *Checker) fieldLimits(fd *flow.Field) {
	t := fd.Type.Value
	if fd.MaxLength.IsSet() && t != flow.TypeText && t != flow.TypeDigits {
		c.add(diag.InvalidValue, fd.MaxLength.Range, "max_length only applies to text and digits fields, and %q is a %s field", fd.Name.Value, t)
	}
	c.answerRules(fd)
	for _, n := range []flow.Number{fd.Min, fd.Max} {
		if n.IsSet() && t != flow.TypeNumber {
			c.add(diag.InvalidValue, n.Range, "min and max only apply to number fields, and %q is a %s field", fd.Name.Value, t)
		}
	}
	if fd.Min.IsSet() && fd.Max.IsSet() && fd.Min.Value > fd.Max.Value {
		c.add(diag.InvalidValue, fd.Max.Range, "max of field %q is smaller than its min", fd.Name.Value)
	}
}

// --- secrets ---------------------------------------------------------------

func checkSecrets(c *Checker) {
	walkScalars(c.Flow, func(s flow.Scalar, what string) {
		if strings.Contains(s.Value, "://") {
			if u, err := url.Parse(strings.TrimSpace(s.Value)); err == nil && u.Host != "" {
				if _, hasPass := u.User.Password(); hasPass || u.User != nil && u.User.Username() != "" {
					c.add(diag.SecretInFlow, s.Range, "the address in %s contains a user name or password: keep credentials in an environment variable named by secret_env", what)
					return
				}
				for k := range u.Query() {
					if diag.IsSecretParam(k) {
						c.add(diag.SecretInFlow, s.Range, "the address in %s carries %q in its query, which looks like a secret: keep it in an environment variable named by secret_env", what, k)
						return
					}
				}
			}
		}
		if diag.LooksSecret(s.Value) {
			c.add(diag.SecretInFlow, s.Range, "%s contains what looks like a password or access token: keep it in an environment variable named by secret_env", what)
		}
	})
}

// walkScalars calls fn for every text value of the flow that could hold a
// secret, with a description of where it is.
func walkScalars(f *flow.Flow, fn func(s flow.Scalar, what string)) {
	text := func(t *flow.Text, what string) {
		if t == nil {
			return
		}
		if t.Plain.IsSet() {
			fn(t.Plain, what)
		}
		for _, lt := range t.ByLang {
			fn(lt.Value, what)
		}
	}
	if f.Controller != nil {
		fn(f.Controller.PrivacyURL, "privacy_url")
		fn(f.Controller.Contact, "contact")
	}
	fn(f.Description, "description")
	for _, in := range f.Integrations {
		what := fmt.Sprintf("integration %q", in.Name.Value)
		fn(in.URL, what)
		fn(in.OnErase, what)
		fn(in.OnStop, what)
		fn(in.Timeout, what)
		fn(in.SecretEnv, what)
	}
	for _, p := range f.Purposes {
		text(p.Description, fmt.Sprintf("purpose %q", p.Name.Value))
	}
	for _, s := range f.Steps {
		what := fmt.Sprintf("step %q", s.ID.Value)
		text(s.Say, what)
		text(s.Ask, what)
		text(s.Retry, what)
		text(s.Handoff, what)
		fn(s.If, what)
	}
}

// --- graph -----------------------------------------------------------------

// edges returns the ids of the steps that may run right after step i, in
// the order written.
func (c *Checker) edges(i int) (next []string) {
	steps := c.Flow.Steps
	s := steps[i]
	fall := func() {
		if i+1 < len(steps) {
			next = append(next, steps[i+1].ID.Value)
		}
	}
	switch {
	case s.End.IsSet() && s.End.Value, s.Handoff != nil:
		// the conversation stops here
	case s.If.IsSet():
		if s.Then.IsSet() {
			next = append(next, s.Then.Value)
		}
		if s.Else.IsSet() {
			next = append(next, s.Else.Value)
		} else {
			fall()
		}
	case s.Next.IsSet():
		next = append(next, s.Next.Value)
	default:
		fall()
	}
	if s.IsAsk() {
		for _, o := range s.Options {
			if o.Next.IsSet() {
				next = append(next, o.Next.Value)
			}
		}
	}
	return next
}

func checkGraph(c *Checker) {
	steps := c.Flow.Steps
	if len(steps) == 0 {
		return
	}
	index := make(map[string]int, len(steps))
	for i, s := range steps {
		if _, dup := index[s.ID.Value]; !dup {
			index[s.ID.Value] = i
		}
	}
	succ := make([][]int, len(steps))
	for i := range steps {
		for _, id := range c.edges(i) {
			if j, ok := index[id]; ok {
				succ[i] = append(succ[i], j)
			}
		}
	}

	// Reachability: from start (or the first step), plus on_fail and
	// on_decline targets, which the engine jumps to on its own.
	if !c.Flow.Start.IsSet() || c.steps[c.Flow.Start.Value] != nil {
		var roots []int
		if c.Flow.Start.IsSet() {
			roots = append(roots, index[c.Flow.Start.Value])
		} else {
			roots = append(roots, 0)
		}
		for _, p := range c.Flow.Purposes {
			if j, ok := index[p.OnDecline.Value]; ok && p.OnDecline.IsSet() {
				roots = append(roots, j)
			}
		}
		if j, ok := index[c.Flow.OnHandoffTimeout.Value]; ok && c.Flow.OnHandoffTimeout.IsSet() {
			roots = append(roots, j) // the engine returns there after a hand-off times out
		}
		seen := make([]bool, len(steps))
		var visit func(int)
		visit = func(i int) {
			if seen[i] {
				return
			}
			seen[i] = true
			for _, j := range succ[i] {
				visit(j)
			}
			if steps[i].OnFail.IsSet() {
				if j, ok := index[steps[i].OnFail.Value]; ok {
					visit(j)
				}
			}
		}
		for _, r := range roots {
			visit(r)
		}
		for i, s := range steps {
			if !seen[i] {
				c.add(diag.Unreachable, s.ID.Range, "step %q is never reached: no step goes to it and the step above it does not continue into it", s.ID.Value)
			}
		}
	}

	// Loops without a question: strongly connected components of the
	// graph restricted to steps that do not wait.
	noWait := make([][]int, len(steps))
	for i := range steps {
		if steps[i].Ask != nil {
			continue
		}
		for _, j := range succ[i] {
			if steps[j].Ask == nil {
				noWait[i] = append(noWait[i], j)
			}
		}
	}
	for _, comp := range sccs(len(steps), func(i int) []int { return noWait[i] }) {
		if len(comp) == 1 && !contains(c.edges(comp[0]), steps[comp[0]].ID.Value) {
			continue
		}
		sort.Ints(comp)
		if len(comp) == 1 {
			s := steps[comp[0]]
			c.add(diag.LoopWithoutWait, s.ID.Range, "step %q goes back to itself without waiting for the customer: add an ask or end the loop", s.ID.Value)
			continue
		}
		names := make([]string, len(comp))
		for i, k := range comp {
			names[i] = fmt.Sprintf("%q", steps[k].ID.Value)
		}
		first := steps[comp[0]]
		c.add(diag.LoopWithoutWait, first.ID.Range, "steps %s form a loop that never waits for the customer: add an ask to the loop or end it", strings.Join(names, ", "))
	}

	hasEnd := false
	for _, s := range steps {
		if s.End.Value || s.Handoff != nil {
			hasEnd = true
			break
		}
	}
	if !hasEnd {
		last := steps[len(steps)-1]
		d := c.add(diag.NoEnd, last.ID.Range, "no step has end: true: mark the last step of the conversation with end: true")
		d.Suggestion = fmt.Sprintf("add end: true to step %q", last.ID.Value)
	}
}

// sccs returns the strongly connected components of a graph of n nodes
// (Tarjan's algorithm, iterative so a 10,000-step flow cannot overflow the
// stack).
func sccs(n int, succ func(int) []int) [][]int {
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var out [][]int
	next := 0
	type frame struct{ v, e int }
	for root := 0; root < n; root++ {
		if index[root] >= 0 {
			continue
		}
		call := []frame{{root, 0}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			top := &call[len(call)-1]
			edges := succ(top.v)
			if top.e < len(edges) {
				w := edges[top.e]
				top.e++
				if index[w] < 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				} else if onStack[w] && index[w] < low[top.v] {
					low[top.v] = index[w]
				}
				continue
			}
			v := top.v
			call = call[:len(call)-1]
			if len(call) > 0 && low[v] < low[call[len(call)-1].v] {
				low[call[len(call)-1].v] = low[v]
			}
			if low[v] == index[v] {
				var comp []int
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp = append(comp, w)
					if w == v {
						break
					}
				}
				out = append(out, comp)
			}
		}
	}
	return out
}
