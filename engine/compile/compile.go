package compile

import (
	"sort"
	"strings"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
)

// maxExprNodes bounds the size of one expression; flows are written by
// people, and nothing sensible needs more.
const maxExprNodes = 200

// defaultAttempts is how many invalid answers an ask accepts before on_fail.
const defaultAttempts = 3

// Flow compiles f. It reports every expression problem it finds, at its exact
// position, and returns a usable Program whenever there are no errors. It
// assumes f passed validate: unknown step targets are reported here only as a
// safety net, so a bad reference never panics at run time.
func Flow(f *flow.Flow) (*Program, diag.Diagnostics) {
	var ds diag.Diagnostics
	p := &Program{
		id:           f.ID.Value,
		version:      f.Version.Value,
		description:  f.Description.Value,
		stepIndex:    make(map[string]int, len(f.Steps)),
		fieldIndex:   make(map[string]int, len(f.Fields)),
		purposeIndex: make(map[string]int, len(f.Purposes)),
		intIndex:     make(map[string]int, len(f.Integrations)),
		start:        None,
	}
	for _, l := range f.Languages {
		p.langs = append(p.langs, l.Value)
	}
	if len(p.langs) == 0 {
		p.langs = []string{f.DefaultLanguage()}
	}
	if w := f.WhatsApp; w != nil && w.OutsideWindow != nil && w.OutsideWindow.Name.IsSet() {
		p.outsideTpl = &WhatsAppTemplate{Name: w.OutsideWindow.Name.Value, Language: w.OutsideWindow.Language.Value, PurposeIndex: None}
	}
	if c := f.Controller; c != nil {
		p.controller = Controller{Name: c.Name.Value, Contact: c.Contact.Value, PrivacyURL: c.PrivacyURL.Value,
			TransfersOutsideEU: c.TransfersOutsideEU.Value}
	}

	// Purposes first: fields refer to them.
	for i, fp := range f.Purposes {
		p.purposeIndex[fp.Name.Value] = i
		p.purposes = append(p.purposes, Purpose{
			Name: fp.Name.Value, Index: i, Basis: fp.Basis.Value,
			NeedsConsent: fp.Basis.Value == flow.BasisConsent,
			OnDecline:    None,
		})
	}
	for i, ff := range f.Fields {
		fd := Field{
			Name: ff.Name.Value, Index: i, Type: ff.Type.Value,
			Purpose: ff.Purpose.Value, PurposeIndex: None,
			MaxLength: ff.MaxLength.Value, Special: ff.Special.Value,
			Min: ff.Min.Value, HasMin: ff.Min.IsSet(),
			Max: ff.Max.Value, HasMax: ff.Max.IsSet(),
		}
		if pi, ok := p.purposeIndex[fd.Purpose]; ok {
			fd.PurposeIndex = pi
			fd.Basis = p.purposes[pi].Basis
			p.purposes[pi].Fields = append(p.purposes[pi].Fields, i)
			if fd.Special != "" {
				p.purposes[pi].NeedsConsent = true
			}
		}
		if ff.Retention.IsSet() {
			r, err := flow.ParseRetention(ff.Retention.Value)
			if err != nil {
				ds.Add(diag.InvalidValue, ff.Retention.Range, "%s", err.Error())
			}
			fd.Retention = r
		} else {
			// No retention means the schema check failed already; never
			// keep such a value.
			fd.Retention = flow.Retention{Kind: flow.RetainTransient}
		}
		switch fd.Type {
		case flow.TypeNumber:
			fd.Zero = float64(0)
		case flow.TypeBoolean:
			fd.Zero = false
		default:
			fd.Zero = ""
		}
		for li, l := range p.langs {
			_ = li
			lbl := ""
			if ff.Label != nil {
				lbl = ff.Label.For(l, p.langs[0]).Value
			}
			if lbl == "" {
				lbl = strings.ReplaceAll(fd.Name, "_", " ")
			}
			fd.Labels = append(fd.Labels, lbl)
		}
		p.fieldIndex[fd.Name] = i
		p.fields = append(p.fields, fd)
	}
	p.compileLifetimes(f, &ds)
	p.compileTemplates(f, &ds)
	for i, fi := range f.Integrations {
		in := Integration{
			Flow: p.id, Name: fi.Name.Value, Index: i, Purpose: fi.Purpose.Value, PurposeIndex: None,
			URL: fi.URL.Value, SecretEnv: fi.SecretEnv.Value, Timeout: callTimeout(fi.Timeout.Value),
			OnErase: fi.OnErase.Value, OnStop: fi.OnStop.Value, Recipient: fi.Recipient.Value,
		}
		if pi, ok := p.purposeIndex[in.Purpose]; ok {
			in.PurposeIndex = pi
		}
		if strings.HasPrefix(in.SecretEnv, reservedEnvPrefix) {
			// The variable's value is posted to the integration's URL:
			// Parley's own secrets (master key, WhatsApp secrets, admin
			// tokens) must never be one a flow can send away.
			ds.Add(diag.InvalidValue, fi.SecretEnv.Range, "secret_env of integration %q names %s, one of Parley's own settings", in.Name, in.SecretEnv).
				Detail = "Its value would be sent to the integration with every call. Name a variable of the integration's own, such as " + strings.ToUpper(in.Name) + "_TOKEN."
			in.SecretEnv = ""
		}
		for _, s := range fi.Sends {
			fx, ok := p.fieldIndex[s.Value]
			if !ok {
				ds.Add(diag.UnknownSendsField, s.Range, "integration %q sends %q, which is not a declared field", in.Name, s.Value).
					Suggestion = diag.DidYouMean(s.Value, p.fieldNames())
				continue
			}
			in.Sends = append(in.Sends, fx)
			in.SendNames = append(in.SendNames, s.Value)
		}
		for _, s := range fi.Receives {
			if fx, ok := p.fieldIndex[s.Value]; ok { // the validator reports unknown ones
				in.Receives = append(in.Receives, fx)
				in.ReceiveNames = append(in.ReceiveNames, s.Value)
			}
		}
		in.OptionsKey = fi.ReceivesOptions.Value
		p.intIndex[in.Name] = i
		p.integrations = append(p.integrations, in)
	}

	ec := newExprCompiler(p, f, &ds)
	p.compileAnswerRules(f, ec)

	for i, s := range f.Steps {
		p.stepIndex[s.ID.Value] = i
	}
	target := func(s flow.Scalar) int {
		if !s.IsSet() {
			return None
		}
		if i, ok := p.stepIndex[s.Value]; ok {
			return i
		}
		d := ds.Add(diag.UnknownStep, s.Range, "there is no step %q", s.Value)
		d.Suggestion = diag.DidYouMean(s.Value, p.stepIDs())
		return None
	}
	if f.Start.IsSet() {
		p.start = target(f.Start)
	} else if len(f.Steps) > 0 {
		p.start = 0
	}
	p.handoff.OnTimeout = target(f.OnHandoffTimeout)
	for pi, fp := range f.Purposes {
		p.purposes[pi].OnDecline = target(fp.OnDecline)
		p.purposes[pi].Description = ec.text(fp.Description)
	}

	for i, s := range f.Steps {
		st := Step{
			ID: s.ID.Value, Index: i, Save: None, Then: None, Else: None,
			OnFail: None, Integration: None, OptionsFrom: None, Purpose: None, Template: None, AtField: None,
			End: s.End.Value, Attempts: defaultAttempts,
		}
		if s.Attempts.IsSet() && s.Attempts.Value > 0 {
			st.Attempts = s.Attempts.Value
		}
		unit := stepKinds[s.Kind()]
		st.Kind = unit.kind
		if unit.compile != nil {
			unit.compile(ec, s, &st, target)
		}
		st.Next = target(s.Next)
		if !s.Next.IsSet() && i+1 < len(f.Steps) {
			st.Next = i + 1
		}
		if st.End {
			st.Next = None
		}
		st.Then = target(s.Then)
		st.Else = target(s.Else)
		st.OnFail = target(s.OnFail)
		p.steps = append(p.steps, st)
	}

	p.keywords = buildKeywords(p.langs, f.Keywords)
	for i := range p.purposes {
		pu := &p.purposes[i]
		for li := range p.langs {
			var n *Notice
			if t := pu.Description.For(li); t == nil || t.Static {
				desc := ""
				if t != nil {
					desc = t.Src
				}
				nn := p.BuildNotice(i, li, desc)
				n = &nn
			}
			pu.Notices = append(pu.Notices, n)
		}
	}
	ds.Sort()
	return p, ds
}

func hasOption(os []Option, id string) bool {
	for _, o := range os {
		if o.ID == id {
			return true
		}
	}
	return false
}

func (p *Program) fieldNames() []string {
	out := make([]string, 0, len(p.fields))
	for _, f := range p.fields {
		out = append(out, f.Name)
	}
	return out
}

func (p *Program) stepIDs() []string { return keys(p.stepIndex) }

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
