package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
		usage:   "parley restore --data DIR --in FILE [--without-ledger]",
		help: `Restores a backup written by 'parley backup' into DIR, which must not hold
a vault yet. The erasure ledger DIR/erasures.log is re-applied, so subjects
erased after the backup was taken stay erased.

Restore refuses (exit 1, nothing restored) when that ledger is missing or
older than the backup: every backup leaves a mark in the erasures.log of the
vault it was taken from, and only a ledger holding that mark knows every
erasure made since. Keep DIR/erasures.log when restoring in place, or copy
the newest erasures.log into a new DIR first. It also refuses a backup
older than the erasure ledger's retention (2 years), because erasures older
than that are no longer on record.

--without-ledger restores anyway: customers erased after the backup was
taken may come back. It is written to the audit log; erase them again from
your own records.

The restore is written to the audit log with the audit head it replaces,
so 'parley audit verify' accepts the restored log.`,
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
	if !c.hasVault(vf) || fs.NArg() > 0 {
		fmt.Fprintln(c.stderr, "parley purge: name the data directory with --data DIR (or the database with --store URL)")
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
	// The vault keeps the real clock: --now decides what has expired, but
	// the audit log and the audit and ledger retentions go by the real time.
	v, err := c.openVault(vf, nil, nil)
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
	v.Audit("cli", "purge:ok", "", map[string]string{"expired": fmt.Sprint(st.Expired)})
	fmt.Fprintf(c.stdout, "expired fields removed: %d\ndeleted fields removed: %d\nold message ids forgotten: %d\nerased subjects purged: %d\nold audit entries removed: %d\nold erasures forgotten: %d\n",
		st.Expired, st.Deleted, st.Dedupe, st.Purged, st.Audit, st.Ledger)
	fmt.Fprintf(c.stdout, "conversations removed: %d\nconsent records removed: %d\nidle subject keys destroyed: %d\n",
		st.States, st.Consents, st.Keys)
	return exitOK
}

func runBackup(c *cli, args []string) int {
	fs := c.flags(commands["backup"])
	vf := addVaultFlags(fs, "")
	out := fs.String("out", "", "backup file to write (required)")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if !c.hasVault(vf) || *out == "" {
		fmt.Fprintln(c.stderr, "parley backup: give --data DIR and --out FILE")
		return exitUsage
	}
	v, err := c.openVault(vf, nil, nil)
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
	v.Audit("cli", "backup:ok", "", nil)
	fmt.Fprintf(c.stdout, "backup written to %s\n", *out)
	return exitOK
}

func runRestore(c *cli, args []string) int {
	fs := c.flags(commands["restore"])
	vf := addVaultFlags(fs, "")
	in := fs.String("in", "", "backup file to read (required)")
	without := fs.Bool("without-ledger", false, "restore even though the erasure ledger is missing or older than the backup (erased customers may come back; audited)")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if c.storeURL(vf.store) != "" {
		fmt.Fprintln(c.stderr, "parley restore: restores a --data directory only; a vault in PostgreSQL (--store) is restored with the database's own tools (pg_restore of a pg_dump), see docs/storage.md")
		return exitUsage
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
	key, err := c.masterKey(*vf.data, *vf.keyFile, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley restore: %v\n", err)
		return exitFailure
	}
	opts := vault.Options{Dir: *vf.data, MasterKey: key}
	ledger := filepath.Join(*vf.data, "erasures.log")
	if *without {
		err = vault.RestoreWithoutLedger(opts, f)
	} else {
		err = vault.Restore(opts, f)
	}
	switch {
	case errors.Is(err, vault.ErrLedgerBehind):
		fmt.Fprintf(c.stderr, `parley restore: refused, nothing was restored: %v.
Without the erasure ledger kept since the backup, customers erased after the
backup was taken would come back. Copy the newest erasures.log (from the data
directory the backup was taken from) to %s and run restore again.
If that ledger is lost, add --without-ledger to restore anyway, then erase
those customers again from your own records.
`, strings.TrimPrefix(err.Error(), "vault: "), ledger)
		return exitFindings
	case errors.Is(err, vault.ErrBackupTooOld):
		fmt.Fprintf(c.stderr, `parley restore: refused, nothing was restored: %v.
Erasures older than the ledger's retention are no longer on record, so this
backup could bring erased customers back. Use a newer backup, or add
--without-ledger to restore anyway and erase those customers again.
`, strings.TrimPrefix(err.Error(), "vault: "))
		return exitFindings
	case err != nil:
		fmt.Fprintf(c.stderr, "parley restore: %v\n", err)
		return exitFailure
	}
	if *without {
		fmt.Fprintf(c.stderr, `
WARNING: restored WITHOUT checking the erasure ledger. Customers erased
after this backup was taken may be back in %s. This restore is
recorded in the audit log. Erase them again from your own records.

`, *vf.data)
		fmt.Fprintf(c.stdout, "restored %s into %s without the erasure ledger check; erasures known to the backup and to %s re-applied\n", *in, *vf.data, ledger)
		return exitOK
	}
	fmt.Fprintf(c.stdout, "restored %s into %s; erasures re-applied from %s\n", *in, *vf.data, ledger)
	return exitOK
}
