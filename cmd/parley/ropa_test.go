package main

import (
	"testing"

	"github.com/parleyhq/parley/engine/vault"
)

// TestROPACoversTheLifecycleTable: every record kind of the vault's
// lifecycle table is either summarised by one of the record of processing's
// kinds or holds nothing about a person. A new row in the table fails here
// until the record says what it keeps and for how long.
func TestROPACoversTheLifecycleTable(t *testing.T) {
	summarisedBy := map[string]string{
		"field values":                "field",
		"conversation state":          "conversation",
		"inbox payloads":              "messages",
		"inbox dedupe markers":        "messages",
		"outbox payloads":             "messages",
		"status callback map":         "messages",
		"window state":                "messages",
		"work queue entries":          "messages",
		"transient keys":              "messages",
		"consent records":             "consent",
		"reminders":                   "reminder",
		"broadcast contacts":          "broadcast",
		"broadcast progress":          "broadcast",
		"subject keys":                "field",
		"recipient records":           "recipient",
		"recipient notices":           "recipient",
		"channel addresses":           "channel address",
		"incidents":                   "", // counts, kinds and purposes of a breach: nothing about a person
		"incident notification marks": "channel address",
		"purge queue":                 "erasure ledger",
		"audit entries":               "audit",
		"hand-off transcript":         "handoff",
		"hand-off queue":              "handoff",
		"erasure ledger":              "erasure ledger",
		"audit head file":             "audit",
		"staff accounts":              "staff access",
		"staff sessions":              "staff access",
		"API tokens":                  "staff access",
		"vault metadata":              "", // key check, pepper, sequences: nothing about a person
	}
	kinds := map[string]bool{}
	for _, k := range ropaRecordKinds {
		kinds[k.Name] = true
		for _, lang := range []string{"en", "it"} {
			if k.What[lang] == "" || k.Retention[lang] == "" {
				t.Errorf("record kind %q has no %s text", k.Name, lang)
			}
		}
	}
	for _, l := range vault.Lifecycles {
		name, ok := summarisedBy[l.Kind]
		switch {
		case !ok:
			t.Errorf("lifecycle row %q is not in the record of processing: add it to ropaRecordKinds and to this test", l.Kind)
		case name != "" && !kinds[name]:
			t.Errorf("lifecycle row %q is summarised by %q, which ropaRecordKinds lacks", l.Kind, name)
		}
	}
}
