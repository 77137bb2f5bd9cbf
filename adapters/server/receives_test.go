package server_test

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/engine/vault"
)

// agendaFlow books the slot an agenda integration answers with: it
// receives slot (kept 7d) and code (kept 1d), nothing else.
func agendaFlow(base string) string {
	return `parley: 1
id: agenda
version: 1
description: Books the slot the agenda offers.
languages: [en]
controller: { name: Agenda Ltd, contact: privacy@agenda.example, privacy_url: https://agenda.example/privacy }
purposes:
  booking:
    basis: contract
    description: to book your visit
fields:
  name: { type: text, purpose: booking, retention: 30d }
  slot: { type: date, purpose: booking, retention: 7d }
  code: { type: text, purpose: booking, retention: 1d, max_length: 40 }
integrations:
  agenda:
    url: ` + base + `/book
    purpose: booking
    sends: [name]
    receives: [slot, code]
start: ask
steps:
  ask:
    ask: Your name?
    save: name
  book:
    call: agenda
    on_fail: sorry
  done:
    say: "Booked {{ slot }}, code {{ code }}."
    end: true
  sorry:
    say: No free slot.
    end: true
`
}

// TestCallReceivesKeepsOnlyDeclaredFieldsSealed: parley serve calls an
// integration on a loopback TLS server that answers with its declared
// fields and an undeclared one. The master-key attacker reading every
// version Badger keeps finds the declared answers and never the undeclared
// value; no file holds a received value in the clear; once the injected
// clock passes code's 1d retention and the vault sweeps, code is gone while
// slot (7d) stays.
func TestCallReceivesKeepsOnlyDeclaredFieldsSealed(t *testing.T) {
	const (
		slot       = "2031-05-06"
		code       = "CANARY-CODE-7731"
		undeclared = "CANARY-UNDECLARED-5521"
	)
	agenda := newFakeRecipient(t)
	agenda.answer = `{"slot":"` + slot + `","code":"` + code + `","note":"` + undeclared + `","more":{"deep":[1,2]}}`
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, envOptions{webChat: true, now: clock, files: map[string]string{"agenda.yaml": agendaFlow(agenda.URL)},
		caller: &server.HTTPCaller{Client: agenda.Client()}})
	e.webTurn(t, "agenda", "visitor", "hi")
	got := e.webTurn(t, "agenda", "visitor", "Ada")
	if want := "Booked " + slot + ", code " + code + "."; len(got) != 1 || got[0] != want {
		t.Fatalf("replies %q, want %q", got, want)
	}
	if c := agenda.all(); len(c) != 1 || c[0].Raw != `{"name":"Ada"}` {
		t.Fatalf("agenda got %+v, want one call with only the name", c)
	}
	e.shutdown(t)

	attack := func() *vault.Recovered {
		t.Helper()
		if err := e.vault.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := vault.AttackerView(e.dataDir, masterKey)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Sealed: no file of the data directory holds a received value as is.
	noFileHolds(t, e.dataDir, slot, code, undeclared)
	r := attack()
	if !r.Contains([]byte(code)) || !r.Contains([]byte(slot)) {
		t.Fatal("control: the master-key attacker cannot read the received answers kept within their retention")
	}
	if r.Contains([]byte(undeclared)) {
		t.Error("an undeclared key of the integration's answer was kept")
	}

	// Past code's retention (1d) but within slot's (7d).
	var err error
	if e.vault, err = vault.Open(vault.Options{Dir: e.dataDir, MasterKey: masterKey, Now: clock}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(25 * time.Hour)
	mu.Unlock()
	if _, err := e.vault.Sweep(clock()); err != nil {
		t.Fatal(err)
	}
	r = attack()
	if r.Contains([]byte(code)) {
		t.Error("code is still readable past its 1d retention")
	}
	if !r.Contains([]byte(slot)) {
		t.Error("slot is gone within its 7d retention")
	}
}

// TestCallReceivesRefusesAnswersThatAreNotStrictJSON: an answer that is
// not one JSON object, too long, lacks a declared field or holds one that
// is not a short scalar fails the call (the flow's on_fail), and the log
// names no value of it.
func TestCallReceivesRefusesAnswersThatAreNotStrictJSON(t *testing.T) {
	const canary = "CANARY-LOGGED-9090"
	for name, answer := range map[string]string{
		"not JSON":          "slot=" + canary,
		"an array":          `["` + canary + `"]`,
		"two objects":       `{"slot":"2031-05-06","code":"a"}{"code":"` + canary + `"}`,
		"missing field":     `{"slot":"2031-05-06","note":"` + canary + `"}`,
		"object value":      `{"slot":"2031-05-06","code":{"v":"` + canary + `"}}`,
		"too long":          `{"slot":"2031-05-06","code":"x","pad":"` + strings.Repeat(canary, 5000) + `"}`,
		"value too long":    `{"slot":"2031-05-06","code":"` + strings.Repeat(canary, 300) + `"}`,
		"over max_length":   `{"slot":"2031-05-06","code":"` + canary + canary + canary + `"}`,
		"not a date":        `{"slot":"` + canary + `","code":"x"}`,
		"day-first date":    `{"slot":"06/05/2031","code":"` + canary + `"}`,
		"null value":        `{"slot":"2031-05-06","code":null}`,
		"number for a date": `{"slot":20310506,"code":"x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			agenda := newFakeRecipient(t)
			agenda.answer = answer
			var logs syncBuffer
			e := newEnv(t, envOptions{webChat: true, logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				files: map[string]string{"agenda.yaml": agendaFlow(agenda.URL)}, caller: &server.HTTPCaller{Client: agenda.Client()}})
			e.webTurn(t, "agenda", "visitor", "hi")
			if got := e.webTurn(t, "agenda", "visitor", "Ada"); len(got) != 1 || got[0] != "No free slot." {
				t.Errorf("replies %q, want on_fail's No free slot.", got)
			}
			e.shutdown(t)
			if strings.Contains(logs.String(), canary) {
				t.Errorf("the log holds a value of the answer:\n%s", logs.String())
			}
		})
	}
}
