package server_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/engine/vault"
)

// slotsFlow offers the free slots an agenda integration answers and keeps
// the id picked.
func slotsFlow(base string) string {
	return `parley: 1
id: slots
version: 1
description: Offers the slots the agenda has free.
languages: [en]
controller: { name: Agenda Ltd, contact: privacy@agenda.example, privacy_url: https://agenda.example/privacy }
purposes:
  booking:
    basis: contract
    description: to book your visit
fields:
  slot: { type: text, purpose: booking, retention: 7d }
integrations:
  agenda:
    url: ` + base + `/slots
    purpose: booking
    sends: []
    receives_options: slots
start: find
steps:
  find:
    call: agenda
    on_fail: sorry
  pick:
    ask: Which slot?
    options_from: agenda
    save: slot
  done:
    say: "Booked {{ slot }}."
    end: true
  sorry:
    say: No free slot.
    end: true
`
}

// TestOptionsFromOverServe: parley serve calls an agenda on a loopback TLS
// server that answers a list of slots; the customer picks the second by
// number and its id is kept, sealed. No file holds an offered id or title
// in the clear and the log names none of them.
func TestOptionsFromOverServe(t *testing.T) {
	const (
		idA, titleA = "CANARY-ID-A1", "CANARY-TTL-A1"
		idB, titleB = "CANARY-ID-B2", "Tue 14:00"
	)
	agenda := newFakeRecipient(t)
	agenda.answer = `{"slots":[{"id":"` + idA + `","title":"` + titleA + `"},{"id":"` + idB + `","title":"` + titleB + `"}],"other":"x"}`
	var logs syncBuffer
	e := newEnv(t, envOptions{webChat: true, logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		files: map[string]string{"slots.yaml": slotsFlow(agenda.URL)}, caller: &server.HTTPCaller{Client: agenda.Client()}})
	if got := e.webTurn(t, "slots", "visitor", "hi"); len(got) == 0 || got[len(got)-1] != "Which slot?" {
		t.Fatalf("replies %q, want the question", got)
	}
	if got := e.webTurn(t, "slots", "visitor", "2"); len(got) != 1 || got[0] != "Booked "+idB+"." {
		t.Fatalf("replies %q, want the second slot booked", got)
	}
	e.shutdown(t)
	noFileHolds(t, e.dataDir, idA, titleA, idB)
	for _, s := range []string{idA, titleA, idB} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log holds %q", s)
		}
	}
	if err := e.vault.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := vault.AttackerView(e.dataDir, masterKey)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Contains([]byte(idB)) {
		t.Error("control: the master-key attacker cannot read the id picked")
	}
}

// TestOptionsFromRefusesAnswersWithoutAList: an answer whose slots are not
// a list fails the call (on_fail), and the log names no value of it.
func TestOptionsFromRefusesAnswersWithoutAList(t *testing.T) {
	const canary = "CANARY-SLOTS-4242"
	for name, answer := range map[string]string{
		"missing":    `{"other":"` + canary + `"}`,
		"text":       `{"slots":"` + canary + `"}`,
		"empty list": `{"slots":[],"x":"` + canary + `"}`,
		"no title":   `{"slots":[{"id":"` + canary + `"}]}`,
		"number id":  `{"slots":[{"id":7,"title":"` + canary + `"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			agenda := newFakeRecipient(t)
			agenda.answer = answer
			var logs syncBuffer
			e := newEnv(t, envOptions{webChat: true, logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				files: map[string]string{"slots.yaml": slotsFlow(agenda.URL)}, caller: &server.HTTPCaller{Client: agenda.Client()}})
			if got := e.webTurn(t, "slots", "visitor", "hi"); len(got) == 0 || got[len(got)-1] != "No free slot." {
				t.Errorf("replies %q, want on_fail's No free slot.", got)
			}
			e.shutdown(t)
			if strings.Contains(logs.String(), canary) {
				t.Errorf("the log holds a value of the answer:\n%s", logs.String())
			}
		})
	}
}
