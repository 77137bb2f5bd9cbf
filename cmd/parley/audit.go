package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/vault"
)

func init() {
	register(&command{
		name:    "audit",
		summary: "verify or show the hash-chained audit log",
		usage:   "parley audit verify|show --data DIR [flags]",
		help: `Works on the vault's audit log: one entry per rights request, purge,
backup, restore and MY DATA / PRIVACY request in a chat, holding the time,
the actor, the action and the pseudonymous subject id, never a phone number,
a name or a value.

  verify   checks that no entry was edited, removed, reordered or re-chained,
           and that the store agrees with the head file DIR/audit.head
           (written outside the store after every entry): entries removed
           from the end, or an older copy of the store put back, fail.
           Exit status 0 when intact, 1 when broken.
  show     prints the entries, oldest first:
           --subject CHANNEL:ID  only this customer's entries (mapped to the
                                 pseudonymous id, as the subject commands do)
           --since RFC3339       only entries at or after this time
           --format text|json    (default text)

Entries older than the audit retention (2 years) are deleted by the sweeper;
the log stays verifiable from the last deleted entry's hash.`,
		run: runAudit,
	})
}

func runAudit(c *cli, args []string) int {
	cmd := commands["audit"]
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			cmd.printHelp(c.stderr, nil)
			return exitOK
		}
		fmt.Fprintln(c.stderr, "parley audit: say what to do: verify or show, e.g. parley audit verify --data DIR")
		return exitUsage
	}
	action := args[0]
	if action != "verify" && action != "show" {
		fmt.Fprintf(c.stderr, "parley audit: unknown action %q: use verify or show\n", action)
		return exitUsage
	}
	fs := c.flags(cmd)
	vf := addVaultFlags(fs, "")
	user := fs.String("subject", "", "show: only this customer's entries, as CHANNEL:ID")
	since := fs.String("since", "", "show: only entries at or after this time (RFC 3339)")
	format := fs.String("format", "text", "show: text or json")
	if code, ok := c.parse(fs, args[1:]); !ok {
		return code
	}
	if *vf.data == "" || fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "parley audit %s: name the data directory with --data DIR\n", action)
		return exitUsage
	}
	var filter vault.AuditFilter
	var channel, id string
	if action == "show" {
		if *format != "text" && *format != "json" {
			fmt.Fprintf(c.stderr, "parley audit show: --format must be text or json, not %q\n", *format)
			return exitUsage
		}
		if *since != "" {
			t, err := time.Parse(time.RFC3339, *since)
			if err != nil {
				fmt.Fprintln(c.stderr, "parley audit show: --since must be an RFC 3339 time such as 2026-12-31T12:00:00Z")
				return exitUsage
			}
			filter.Since = t
		}
		if *user != "" {
			var ok bool
			if channel, id, ok = parseCustomer(*user); !ok {
				fmt.Fprintln(c.stderr, "parley audit show: name the customer with --subject CHANNEL:ID, for example --subject whatsapp:15550001234")
				return exitUsage
			}
		}
	}
	v, err := c.openVault(*vf.data, *vf.keyFile, nil, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley audit: %v\n", err)
		return exitFailure
	}
	defer v.Close()
	if action == "verify" {
		return auditVerify(c, v)
	}
	if *user != "" {
		filter.Subject = v.SubjectID(channel, id)
	}
	entries, err := v.AuditEntries(filter)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley audit show: %v\n", err)
		return exitFailure
	}
	if *format == "json" {
		if entries == nil {
			entries = []vault.AuditEntry{}
		}
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(entries); err != nil {
			return exitFailure
		}
		return exitOK
	}
	for _, e := range entries {
		fmt.Fprintf(c.stdout, "%d %s %s %s", e.Seq, e.At.UTC().Format(time.RFC3339), e.Actor, e.Action)
		if e.Subject != "" {
			fmt.Fprintf(c.stdout, " subject=%s", e.Subject)
		}
		keys := make([]string, 0, len(e.Detail))
		for k := range e.Detail {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(c.stdout, " %s=%s", k, e.Detail[k])
		}
		fmt.Fprintln(c.stdout)
	}
	if len(entries) == 0 {
		fmt.Fprintln(c.stderr, "parley audit show: no entries match")
	}
	return exitOK
}

func auditVerify(c *cli, v *vault.Vault) int {
	n, err := v.AuditVerify()
	if errors.Is(err, vault.ErrAuditTampered) {
		fmt.Fprintf(c.stdout, "audit log BROKEN after %d intact entries: %s\n", n, strings.TrimPrefix(err.Error(), "vault: "))
		return exitFindings
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "parley audit verify: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(c.stdout, "audit log intact: %d entries\n", n)
	return exitOK
}
