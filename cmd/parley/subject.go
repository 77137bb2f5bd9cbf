package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

func init() {
	register(&command{
		name:    "subject",
		summary: "export, erase or rectify one customer's data",
		usage:   "parley subject export|erase|rectify --data DIR --user CHANNEL:ID [--flows DIR] [flags]",
		help: `Answers data-subject requests from the command line.

  export    prints, as JSON, every field held (value, purpose, legal basis,
            collected_at, expires_at, flow and version) and the consent history
  erase     destroys the subject's key and records and prints an erasure
            receipt that holds no personal data
  rectify   replaces one held field: --field NAME --value VALUE. The value
            is checked exactly as an answer in chat would be (type,
            max_length, min/max, options) against the field as declared by
            the flow that collected it, found in --flows; a value the field
            would refuse changes nothing (exit 1)

The customer is named by channel and user id, for example whatsapp:15550001234
or web:alice; storage only ever sees a pseudonym derived from it. A number
may be written with +, spaces or dashes (whatsapp:+1 555-000-1234).
--now RFC3339 views as of another time (for example to check what an export
will show once retention has run out). It never dates history: erasures and
audit entries are always recorded at the real time. Every request is written
to the audit log.`,
		run: runSubject,
	})
}

func runSubject(c *cli, args []string) int {
	cmd := commands["subject"]
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			cmd.printHelp(c.stderr, nil)
			return exitOK
		}
		fmt.Fprintln(c.stderr, "parley subject: say what to do: export, erase or rectify")
		return exitUsage
	}
	action := args[0]
	if action != "export" && action != "erase" && action != "rectify" {
		fmt.Fprintf(c.stderr, "parley subject: unknown action %q: use export, erase or rectify\n", action)
		return exitUsage
	}
	fs := c.flags(cmd)
	vf := addVaultFlags(fs, "")
	user := fs.String("user", "", "the customer, as CHANNEL:ID (required)")
	nowFlag := fs.String("now", "", "act as of this time (RFC 3339), default: now")
	field := fs.String("field", "", "rectify: the field to change")
	value := fs.String("value", "", "rectify: the new value")
	flowsDir := fs.String("flows", "flows", "rectify: the flow files or directory (as for serve) that declare the field")
	if code, ok := c.parse(fs, args[1:]); !ok {
		return code
	}
	if *vf.data == "" {
		fmt.Fprintln(c.stderr, "parley subject: name the data directory with --data DIR")
		return exitUsage
	}
	channel, id, ok := parseCustomer(*user)
	if !ok {
		fmt.Fprintln(c.stderr, "parley subject: name the customer with --user CHANNEL:ID, for example --user whatsapp:15550001234")
		return exitUsage
	}
	now := time.Now()
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			fmt.Fprintf(c.stderr, "parley subject: --now must be an RFC 3339 time such as 2026-12-31T12:00:00Z\n")
			return exitUsage
		}
		now = t
	}
	if action == "rectify" && (*field == "" || !flagSet(fs, "value")) {
		fmt.Fprintln(c.stderr, "parley subject rectify: give --field NAME and --value VALUE")
		return exitUsage
	}
	// The vault keeps the real clock: --now is for reading (what has
	// expired), never for writing history (audit entries, erasures).
	v, err := c.openVault(*vf.data, *vf.keyFile, nil, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley subject: %v\n", err)
		return exitFailure
	}
	defer v.Close()
	var flows *server.Flows
	if action == "rectify" {
		f, report, err := server.LoadFlows(*flowsDir)
		fmt.Fprint(c.stderr, report)
		if err != nil {
			fmt.Fprintf(c.stderr, "parley subject rectify: the new value is checked against the flow that declares the field, and the flows in --flows %s cannot be used (%v): point --flows at the flow files 'parley serve' uses\n", *flowsDir, err)
			if errors.Is(err, server.ErrFlowErrors) {
				return exitFindings
			}
			return exitFailure
		}
		flows = f
	}
	s := v.SubjectID(channel, id)
	audit := func(outcome string) {
		if err := v.Audit("cli", "subject."+action+":"+outcome, s.Hex(), nil); err != nil {
			fmt.Fprintf(c.stderr, "parley subject: writing the audit log: %v\n", err)
		}
	}
	var out any
	switch action {
	case "export":
		out, err = session.ExportSubject(v, s, now)
	case "erase":
		out, err = session.EraseSubject(v, s, time.Now())
	case "rectify":
		err = session.RectifySubject(v, s, *field, *value, now, flows.Get)
		out = map[string]any{"subject": s.Hex(), "field": *field, "rectified_at": now.UTC()}
	}
	if err != nil {
		audit("failed")
		fmt.Fprintf(c.stderr, "parley subject %s: %v\n", action, err)
		switch {
		case errors.Is(err, session.ErrFlowNotLoaded):
			fmt.Fprintf(c.stderr, "parley subject rectify: point --flows at the flow files parley serve uses (now: %s)\n", *flowsDir)
		case errors.Is(err, vault.ErrNotFound), errors.Is(err, runtime.ErrInvalidValue):
			return exitFindings
		}
		return exitFailure
	}
	audit("ok")
	held := true
	switch o := out.(type) {
	case *session.Export:
		held = o.Conversation != nil || len(o.Fields)+len(o.Consents)+len(o.Recipients) > 0
	case *session.ErasureReceipt:
		held = o.KeyDestroyed
	}
	if !held {
		// Not an error: the data may have expired. But a mistyped id looks
		// exactly like this, so say so (without repeating the id).
		fmt.Fprintf(c.stderr, "parley subject %s: nothing is held under this customer id. If you expected data, check the channel and the id: a WhatsApp id is the number with its country code (whatsapp:15550001234), a web visitor's the part of its parley_session cookie before the dot\n", action)
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return exitFailure
	}
	return exitOK
}
