package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/parleyhq/parley/engine/vault"
)

func init() {
	register(&command{
		name:    "purge",
		summary: "delete expired data now and reclaim disk space",
		usage:   "parley purge --data DIR [--now RFC3339]",
		help: `Runs the retention sweeper once: physically removes every field whose
retention has run out (all stored versions), conversations past the flow's
conversation_retention, consent records past their proof period and the keys
of customers about whom nothing is held any more; destroys the short-lived
keys of processed WhatsApp messages and sent replies; forgets old inbound
message ids, finishes pending erasures and reclaims space. 'parley serve' does
this in the background; purge is for stores that are not being served.`,
		run: runPurge,
	})
	register(&command{
		name:    "audit",
		summary: "verify the hash-chained audit log",
		usage:   "parley audit verify --data DIR",
		help: `Checks that no entry of the audit log was edited, removed or reordered.
Exit status 0 when the chain is intact, 1 when it is broken.`,
		run: runAudit,
	})
	register(&command{
		name:    "backup",
		summary: "write an encrypted backup of the vault",
		usage:   "parley backup --data DIR --out FILE",
		help: `Writes an encrypted, authenticated backup of the vault to FILE (mode 0600).
The backup is readable only with the same master key. Restoring it never
brings back a subject erased after the backup was taken.`,
		run: runBackup,
	})
	register(&command{
		name:    "restore",
		summary: "restore an encrypted backup into an empty data directory",
		usage:   "parley restore --data DIR --in FILE",
		help: `Restores a backup written by 'parley backup' into DIR, which must not hold
a vault yet. The erasure ledger is re-applied, so subjects erased after the
backup was taken stay erased (keep DIR/erasures.log, or copy it into DIR
before restoring).`,
		run: runRestore,
	})
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

func runPurge(c *cli, args []string) int {
	fs := c.flags(commands["purge"])
	vf := addVaultFlags(fs, "")
	nowFlag := fs.String("now", "", "judge expiry as of this time (RFC 3339), default: now")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if *vf.data == "" || fs.NArg() > 0 {
		fmt.Fprintln(c.stderr, "parley purge: name the data directory with --data DIR")
		return exitUsage
	}
	now := time.Now()
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			fmt.Fprintln(c.stderr, "parley purge: --now must be an RFC 3339 time such as 2026-12-31T12:00:00Z")
			return exitUsage
		}
		now = t
	}
	v, err := c.openVault(*vf.data, *vf.keyFile, func() time.Time { return now }, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley purge: %v\n", err)
		return exitFailure
	}
	defer v.Close()
	st, err := v.Sweep(now)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley purge: %v\n", err)
		return exitFailure
	}
	v.Audit("cli", "purge:ok", "", map[string]string{"expired": fmt.Sprint(st.Expired)}, now)
	fmt.Fprintf(c.stdout, "expired fields removed: %d\ndeleted fields removed: %d\nold message ids forgotten: %d\nerased subjects purged: %d\n",
		st.Expired, st.Deleted, st.Dedupe, st.Purged)
	fmt.Fprintf(c.stdout, "conversations removed: %d\nconsent records removed: %d\nidle subject keys destroyed: %d\n",
		st.States, st.Consents, st.Keys)
	return exitOK
}

func runAudit(c *cli, args []string) int {
	cmd := commands["audit"]
	if len(args) == 0 || args[0] != "verify" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			cmd.printHelp(c.stderr, nil)
			return exitOK
		}
		fmt.Fprintln(c.stderr, "parley audit: the only action is verify: parley audit verify --data DIR")
		return exitUsage
	}
	fs := c.flags(cmd)
	vf := addVaultFlags(fs, "")
	if code, ok := c.parse(fs, args[1:]); !ok {
		return code
	}
	if *vf.data == "" {
		fmt.Fprintln(c.stderr, "parley audit verify: name the data directory with --data DIR")
		return exitUsage
	}
	v, err := c.openVault(*vf.data, *vf.keyFile, nil, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley audit: %v\n", err)
		return exitFailure
	}
	defer v.Close()
	n, err := v.AuditVerify()
	if errors.Is(err, vault.ErrAuditTampered) {
		fmt.Fprintf(c.stdout, "audit log BROKEN after %d intact entries: %v\n", n, err)
		return exitFindings
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "parley audit: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(c.stdout, "audit log intact: %d entries\n", n)
	return exitOK
}

func runBackup(c *cli, args []string) int {
	fs := c.flags(commands["backup"])
	vf := addVaultFlags(fs, "")
	out := fs.String("out", "", "backup file to write (required)")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if *vf.data == "" || *out == "" {
		fmt.Fprintln(c.stderr, "parley backup: give --data DIR and --out FILE")
		return exitUsage
	}
	v, err := c.openVault(*vf.data, *vf.keyFile, nil, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley backup: %v\n", err)
		return exitFailure
	}
	defer v.Close()
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley backup: %v\n", err)
		return exitFailure
	}
	if err := v.Backup(f); err != nil {
		f.Close()
		os.Remove(*out)
		fmt.Fprintf(c.stderr, "parley backup: %v\n", err)
		return exitFailure
	}
	if err := f.Sync(); err != nil {
		f.Close()
		fmt.Fprintf(c.stderr, "parley backup: %v\n", err)
		return exitFailure
	}
	f.Close()
	v.Audit("cli", "backup:ok", "", nil, time.Now())
	fmt.Fprintf(c.stdout, "backup written to %s\n", *out)
	return exitOK
}

func runRestore(c *cli, args []string) int {
	fs := c.flags(commands["restore"])
	vf := addVaultFlags(fs, "")
	in := fs.String("in", "", "backup file to read (required)")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if *vf.data == "" || *in == "" {
		fmt.Fprintln(c.stderr, "parley restore: give --data DIR and --in FILE")
		return exitUsage
	}
	f, err := os.Open(*in)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley restore: %v\n", err)
		return exitFailure
	}
	defer f.Close()
	key, err := c.masterKey(*vf.data, *vf.keyFile)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley restore: %v\n", err)
		return exitFailure
	}
	if err := vault.Restore(vault.Options{Dir: *vf.data, MasterKey: key}, f); err != nil {
		fmt.Fprintf(c.stderr, "parley restore: %v\n", err)
		return exitFailure
	}
	v, err := c.openVault(*vf.data, *vf.keyFile, nil, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley restore: %v\n", err)
		return exitFailure
	}
	v.Audit("cli", "restore:ok", "", nil, time.Now())
	v.Close()
	fmt.Fprintf(c.stdout, "restored %s into %s; erasures re-applied\n", *in, *vf.data)
	return exitOK
}
