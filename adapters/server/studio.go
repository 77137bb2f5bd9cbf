package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/parleyhq/parley/adapters/studio"
	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flowgraph"
	"github.com/parleyhq/parley/engine/lint"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
)

// StudioChannel is the channel name of the studio's test users: their
// subjects are pseudonyms of "studio:<session id>", never a customer's.
const StudioChannel = "studio"

// StudioConfig enables the authoring studio at /studio.
type StudioConfig struct {
	// Remote admits clients that are not on this machine, signed in or with
	// an API token of role admin (Config.Staff or Config.AdminTokens is then
	// required).
	Remote bool
}

// SubjectSweeper deletes one subject's expired fields at a given time; the
// studio needs it to sweep its test user on the test user's own clock.
// engine/session implements it on the vault.
type SubjectSweeper interface {
	SweepSubject(ctx context.Context, subject string, now time.Time) (int, error)
}

var _ SubjectSweeper = (*session.Store)(nil)

func (s *Server) registerStudio() error {
	sw, ok := s.store.(SubjectSweeper)
	if !ok {
		return errors.New("server: the studio needs a store that can sweep one subject")
	}
	cfg := studio.Config{Flows: studioFlows{s}, Users: studioUsers{s: s, sweep: sw}, Now: s.cfg.Now, Logger: s.log}
	if s.cfg.Studio.Remote {
		if s.cfg.AdminTokens == nil && s.cfg.Staff == nil {
			return errors.New("server: the studio is open to other machines only behind the admin sign-in: configure staff accounts or admin tokens")
		}
		cfg.Guard = s.adminGuard()
	}
	studio.Register(s.app, cfg)
	return nil
}

// studioFlows is the flow directory for the studio: the files LoadFlows
// found, linted as parley lint does, saved atomically, then reloaded.
type studioFlows struct{ s *Server }

var _ studio.Flows = studioFlows{}

func (f studioFlows) Files() []string {
	paths, err := check.Expand([]string{f.s.flows.dir})
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range paths {
		if rel, err := filepath.Rel(f.s.flows.dir, p); err == nil {
			out = append(out, filepath.ToSlash(rel))
		}
	}
	slices.Sort(out)
	return out
}

// path returns the file's path in the flow directory, only for a name
// Files lists (nothing outside the directory can be named).
func (f studioFlows) path(file string) (string, error) {
	if !slices.Contains(f.Files(), file) {
		return "", studio.ErrUnknownFile
	}
	return filepath.Join(f.s.flows.dir, filepath.FromSlash(file)), nil
}

func (f studioFlows) Source(file string) ([]byte, error) {
	p, err := f.path(file)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

func (f studioFlows) Check(file string, src []byte) studio.Checked {
	p := filepath.Join(f.s.flows.dir, filepath.FromSlash(file))
	r := check.Source(p, src)
	var ds diag.Diagnostics
	if rep, err := lint.Run(&check.Set{Results: []*check.Result{r}, Diags: r.Diags}); err == nil {
		// Only the flow's own: a policy file's findings have lines of
		// their own file.
		for _, d := range rep.Diags {
			if d.Subject.Filename == p {
				ds = append(ds, d)
			}
		}
	} else {
		ds = lint.Flow(r, nil)
	}
	// Another served file with this id would stop the reload after a save.
	if r.Flow != nil {
		if other, ok := f.s.flows.fileOf(r.Flow.ID.Value); ok && filepath.Clean(other) != filepath.Clean(p) {
			rel, err := filepath.Rel(f.s.flows.dir, other)
			if err != nil {
				rel = filepath.Base(other)
			}
			lint.AddSharedID(&ds, r, filepath.ToSlash(rel))
			ds.Sort()
		}
	}
	ck := studio.Checked{Diags: ds}
	if r.Flow != nil {
		ck.Flow = r.Flow.ID.Value
		ck.DataMap = dataMap(lint.InventoryOf(r.Flow))
	}
	if r.Program != nil && !ds.HasErrors() {
		var b bytes.Buffer
		if err := flowgraph.Build(r.Program, r.Flow).WriteSVG(&b); err == nil {
			ck.Graph = b.Bytes()
		}
	}
	return ck
}

func dataMap(inv *lint.Inventory) *studio.DataMap {
	m := &studio.DataMap{Purposes: []studio.Purpose{}, Fields: []studio.Field{}, Recipients: []studio.Recipient{}}
	for _, p := range inv.Purposes {
		m.Purposes = append(m.Purposes, studio.Purpose{Name: p.Name, Basis: p.Basis})
	}
	for _, fd := range inv.Fields {
		m.Fields = append(m.Fields, studio.Field{Name: fd.Name, Type: fd.Type, Purpose: fd.Purpose, Basis: fd.Basis,
			Retention: fd.Retention, Special: fd.Special, Recipients: append([]string{}, fd.Recipients...)})
	}
	for _, r := range inv.Integrations {
		m.Recipients = append(m.Recipients, studio.Recipient{Name: r.Name, Host: r.Host, Purpose: r.Purpose, Sends: append([]string{}, r.Sends...)})
	}
	return m
}

// Save writes the file only when it lints with no error: to a temporary
// file in the same directory, synced, then renamed over the old one, so a
// crash leaves either the old flow or the new one. Then the served flows
// reload; when the reload is refused the old set keeps serving.
func (f studioFlows) Save(file string, src []byte) (studio.Checked, error) {
	p, err := f.path(file)
	if err != nil {
		return studio.Checked{}, err
	}
	ck := f.Check(file, src)
	if ck.Diags.HasErrors() {
		return ck, studio.ErrNotClean
	}
	if err := writeAtomic(p, src); err != nil {
		return ck, fmt.Errorf("studio: save %s: %w", file, err)
	}
	report, err := f.s.flows.Reload()
	if err != nil {
		f.s.log.Warn("the studio saved a flow but the reload was refused; the flows already loaded keep serving", "file", file)
		if report != "" {
			f.s.log.Warn(report)
		}
		return ck, fmt.Errorf("%w: %w", studio.ErrNotReloaded, err)
	}
	f.s.log.Info("flows reloaded after a studio save", "file", file, "flows", f.s.describe())
	return ck, nil
}

func writeAtomic(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".studio-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // the rename itself durable, where the OS allows it
		d.Close()
	}
	return nil
}

// studioUsers runs the studio's test users on the server's flows and
// store, each turn on the test user's own clock. Integration calls are
// not made (every call step follows its on_fail): nothing the author types
// leaves the machine.
type studioUsers struct {
	s     *Server
	sweep SubjectSweeper
}

var _ studio.TestUsers = studioUsers{}

func (u studioUsers) subject(user string) string { return u.s.store.Subject(StudioChannel, user) }

func (u studioUsers) Chat(ctx context.Context, user, flowID string, in studio.Inbound, now time.Time) (studio.Reply, error) {
	if _, ok := u.s.flows.Get(flowID); !ok {
		return studio.Reply{}, studio.ErrNoFlow
	}
	eng := &runtime.Engine{Lookup: u.s.flows.Get, Store: u.s.store, Now: func() time.Time { return now }}
	subject := u.subject(user)
	var id [12]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24+)
	turn, st, err := eng.HandleWith(ctx, subject, flowID,
		runtime.Inbound{ID: "studio-" + hex.EncodeToString(id[:]), Text: runtime.Answer(in.Text), Choice: in.Choice},
		func(st *runtime.State, t runtime.Turn, now time.Time) error {
			return u.s.store.Save(ctx, subject, st, t.Effects, now)
		})
	if err != nil {
		return studio.Reply{}, err
	}
	r := studio.Reply{Status: session.StatusName(st.Status)}
	if st.Status == runtime.StatusWaiting || st.Status == runtime.StatusHandedOff {
		r.Step = st.Step
	}
	for _, m := range turn.Out {
		sm := studio.Message{Text: m.Text, Options: []studio.Option{}}
		for _, o := range m.Options {
			sm.Options = append(sm.Options, studio.Option{ID: o.ID, Title: o.Title})
		}
		r.Messages = append(r.Messages, sm)
	}
	return r, nil
}

func (u studioUsers) Held(ctx context.Context, user string, now time.Time) (studio.Held, error) {
	var h studio.Held
	ex, err := u.s.store.Export(ctx, u.subject(user), now)
	if errors.Is(err, session.ErrNotFound) {
		return h, nil
	}
	if err != nil {
		return h, err
	}
	for _, f := range ex.Fields {
		exp := f.ExpiresAt
		if _, err := time.Parse(time.RFC3339, exp); err != nil {
			exp = "" // the end of the conversation
		}
		h.Fields = append(h.Fields, studio.HeldField{Field: f.Field, Value: fmt.Sprint(f.Value), Purpose: f.Purpose, Basis: f.Basis,
			CollectedAt: f.CollectedAt, ExpiresAt: exp})
	}
	for _, c := range ex.Consents {
		h.Consents = append(h.Consents, studio.HeldConsent{Purpose: c.Purpose, Decision: c.Decision, At: c.At})
	}
	return h, nil
}

func (u studioUsers) Sweep(ctx context.Context, user string, now time.Time) (int, error) {
	return u.sweep.SweepSubject(ctx, u.subject(user), now)
}

func (u studioUsers) Erase(ctx context.Context, user string, now time.Time) error {
	_, err := u.s.store.Erase(ctx, u.subject(user), now)
	if errors.Is(err, session.ErrNotFound) {
		return nil
	}
	return err
}
