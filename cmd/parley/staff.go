package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parleyhq/parley/adapters/admin"
	"github.com/parleyhq/parley/engine/vault"
)

var _ admin.StaffStore = (*vault.Vault)(nil)

func init() {
	register(&command{
		name:    "staff",
		summary: "add, list, disable or remove staff accounts and API tokens",
		usage:   "parley staff add|list|disable|enable|role|reset|remove|token ... --data DIR [flags]",
		help: `Manages who may use the console and the admin API. Each person has an
account with one role (viewer, operator, dpo or admin); operators, DPOs and
admins must set up a second factor (an authenticator app) the first time
they sign in at /console/login, and get ten one-time recovery codes then.

  add NAME --role ROLE       a new account; the password comes from
                             --password-file FILE ("-" reads stdin) or
                             $PARLEY_STAFF_PASSWORD, else a strong one is
                             made and printed once: hand it over safely
  list                       accounts: role, second factor, disabled
  disable NAME / enable NAME stop (or allow again) the account: its
                             sessions and API tokens stop at once
  role NAME ROLE             change the role; the person signs in again
  reset NAME                 a new password (as for add) and no second
                             factor: the person enrols again (a lost
                             phone); every session ends
  remove NAME                delete the account
  token add NAME --owner ACCOUNT | --role ROLE [--expires 2160h]
                             an API token for automation, printed once:
                             a person's (their role, dies with their
                             account) or a service's (--role)
  token list                 tokens: id, name, owner, role, expiry
  token revoke ID            stop a token at once

Accounts live in the vault (sealed like every record); with the Badger
store stop parley serve first, with --store (PostgreSQL) it may keep
running and changes apply to its next request. Every change is written to
the audit log as actor "cli".`,
		run: runStaff,
	})
}

// staffPasswordChars is the alphabet of generated passwords (no look-alikes).
const staffPasswordChars = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func generatedPassword() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	var s strings.Builder
	for i, x := range b {
		if i > 0 && i%5 == 0 {
			s.WriteByte('-')
		}
		s.WriteByte(staffPasswordChars[int(x)%len(staffPasswordChars)])
	}
	return s.String()
}

func runStaff(c *cli, args []string) int {
	cmd := commands["staff"]
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			cmd.printHelp(c.stderr, nil)
			return exitOK
		}
		fmt.Fprintln(c.stderr, "parley staff: say what to do: add, list, disable, enable, role, reset, remove or token")
		return exitUsage
	}
	action := args[0]
	args = args[1:]
	if action == "token" {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			fmt.Fprintln(c.stderr, "parley staff token: say what to do: add, list or revoke")
			return exitUsage
		}
		action, args = "token "+args[0], args[1:]
	}
	want := map[string]int{"add": 1, "list": 0, "disable": 1, "enable": 1, "role": 2, "reset": 1, "remove": 1,
		"token add": 1, "token list": 0, "token revoke": 1}
	nargs, known := want[action]
	if !known {
		fmt.Fprintf(c.stderr, "parley staff: unknown action %q: use add, list, disable, enable, role, reset, remove, token add, token list or token revoke\n", action)
		return exitUsage
	}
	fs := c.flags(cmd)
	vf := addVaultFlags(fs, "")
	role := fs.String("role", "", "add: the account's role; token add: a service token's role (viewer, operator, dpo, admin)")
	pwFile := fs.String("password-file", "", `add, reset: read the password from this file ("-": stdin) instead of $PARLEY_STAFF_PASSWORD`)
	owner := fs.String("owner", "", "token add: the account the token belongs to (it gets that account's role)")
	expires := fs.Duration("expires", admin.DefaultTokenTTL, "token add: how long the token works, such as 720h")
	format := fs.String("format", "text", "list, token list: text or json")
	pos, code, ok := c.parseAnywhere(fs, args)
	if !ok {
		return code
	}
	prog := "parley staff " + action
	if len(pos) != nargs {
		what := map[int]string{0: "no argument", 1: "one argument", 2: "two arguments"}[nargs]
		fmt.Fprintf(c.stderr, "%s: takes %s (got %d); see 'parley staff --help'\n", prog, what, len(pos))
		return exitUsage
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(c.stderr, "%s: --format must be text or json\n", prog)
		return exitUsage
	}
	if !c.hasVault(vf) {
		fmt.Fprintf(c.stderr, "%s: name the data directory with --data DIR (or the database with --store URL)\n", prog)
		return exitUsage
	}
	if action == "add" && *role == "" {
		fmt.Fprintf(c.stderr, "%s: give the role with --role viewer, operator, dpo or admin\n", prog)
		return exitUsage
	}
	if action == "token add" && (*owner == "") == (*role == "") {
		fmt.Fprintf(c.stderr, "%s: give either --owner ACCOUNT (a person's token) or --role ROLE (a service's token)\n", prog)
		return exitUsage
	}
	var password string
	generated := false
	if action == "add" || action == "reset" {
		pw, gen, err := c.staffPassword(*pwFile)
		if err != nil {
			fmt.Fprintf(c.stderr, "%s: %v\n", prog, err)
			return exitUsage
		}
		if err := admin.CheckPassword(pw); err != nil {
			fmt.Fprintf(c.stderr, "%s: %v\n", prog, err)
			return exitUsage
		}
		password, generated = pw, gen
	}
	if (action == "add" || action == "role") && admin.CheckName(pos[0]) != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", prog, admin.CheckName(pos[0]))
		return exitUsage
	}

	// The first account may come before the first serve: add creates the
	// vault, every other action needs an existing one.
	open := c.openVault
	if action == "add" {
		open = func(vf vaultFlags, now func() time.Time, log *slog.Logger) (*vault.Vault, error) {
			return c.createVault(*vf.data, c.storeURL(vf.store), *vf.keyFile, now, log)
		}
	}
	v, err := open(vf, nil, nil)
	if err != nil {
		if errors.Is(err, vault.ErrLocked) || strings.Contains(err.Error(), "in use by another parley process") {
			fmt.Fprintf(c.stderr, "%s: %v. To revoke access while it runs, an admin uses the admin API: POST /admin/v1/staff/disable {\"name\": ...} or /admin/v1/staff/tokens/revoke {\"id\": ...}\n", prog, err)
		} else {
			fmt.Fprintf(c.stderr, "%s: %v\n", prog, err)
		}
		return exitFailure
	}
	defer v.Close()
	st := admin.NewStaff(v, nil, func(_ context.Context, actor, action, ref string) error {
		return v.Audit(actor, action, ref, nil)
	})
	ctx := context.Background()
	switch action {
	case "add":
		err = st.Add(ctx, admin.ActorCLI, pos[0], *role, password)
	case "disable", "enable":
		err = st.SetDisabled(ctx, admin.ActorCLI, pos[0], action == "disable")
	case "role":
		err = st.SetRole(ctx, admin.ActorCLI, pos[0], pos[1])
	case "reset":
		err = st.Reset(ctx, admin.ActorCLI, pos[0], password)
	case "remove":
		err = st.Remove(ctx, admin.ActorCLI, pos[0])
	case "token revoke":
		err = st.RevokeToken(ctx, admin.ActorCLI, pos[0])
	case "list":
		var list []admin.AccountInfo
		if list, err = st.List(); err == nil {
			err = printAccounts(c.stdout, list, *format)
		}
	case "token list":
		var list []admin.TokenInfo
		if list, err = st.Tokens(); err == nil {
			err = printTokens(c.stdout, list, *format)
		}
	case "token add":
		var tok string
		var info admin.TokenInfo
		if tok, info, err = st.AddToken(ctx, admin.ActorCLI, pos[0], *owner, *role, *expires); err == nil {
			fmt.Fprintf(c.stderr, "API token %s (%s, role %s) works until %s. It is shown only now: store it in your automation's secret store. Use it as 'Authorization: Bearer <token>'.\n",
				info.ID, info.Name, info.Role, info.Expires.Format(time.RFC3339))
			fmt.Fprintln(c.stdout, tok)
		}
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", prog, err)
		if errors.Is(err, admin.ErrNoAccount) || errors.Is(err, admin.ErrNoToken) || errors.Is(err, admin.ErrAccountExists) {
			fmt.Fprintln(c.stderr, "  'parley staff list' and 'parley staff token list' show what exists")
			return exitFindings
		}
		return exitFailure
	}
	switch action {
	case "add", "reset":
		if generated {
			fmt.Fprintf(c.stderr, "Password for %s, shown only now; hand it over safely:\n", pos[0])
			fmt.Fprintln(c.stdout, password)
		}
		fmt.Fprintf(c.stderr, "%s can sign in at /console/login", pos[0])
		if action == "reset" || *role != "viewer" {
			fmt.Fprint(c.stderr, " and will set up two-factor sign-in there")
		}
		fmt.Fprintln(c.stderr)
	case "disable", "enable", "role", "remove", "token revoke":
		fmt.Fprintf(c.stderr, "done: %s %s\n", action, strings.Join(pos, " "))
	}
	return exitOK
}

// staffPassword reads a new password from --password-file, else
// $PARLEY_STAFF_PASSWORD, else makes one (generated true).
func (c *cli) staffPassword(file string) (string, bool, error) {
	switch {
	case file == "-":
		b, err := io.ReadAll(io.LimitReader(c.stdin, 4096))
		if err != nil {
			return "", false, fmt.Errorf("reading the password from stdin: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), false, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", false, fmt.Errorf("reading --password-file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), false, nil
	case c.getenv("PARLEY_STAFF_PASSWORD") != "":
		return c.getenv("PARLEY_STAFF_PASSWORD"), false, nil
	}
	return generatedPassword(), true, nil
}

// printJSON writes v indented, for --format json.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printAccounts(w io.Writer, list []admin.AccountInfo, format string) error {
	if format == "json" {
		return printJSON(w, list)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tROLE\tTWO-FACTOR\tSTATE\tCREATED")
	for _, a := range list {
		tf := "not set up"
		if a.Enrolled {
			tf = fmt.Sprintf("on (%d recovery codes left)", a.RecoveryLeft)
		}
		state := "active"
		if a.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, a.ID, a.Role, tf, state, a.Created.Format("2006-01-02"))
	}
	return tw.Flush()
}

func printTokens(w io.Writer, list []admin.TokenInfo, format string) error {
	if format == "json" {
		return printJSON(w, list)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tOWNER\tROLE\tEXPIRES")
	for _, t := range list {
		o := t.Owner
		if o == "" {
			o = "(service)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, o, t.Role, t.Expires.Format(time.RFC3339))
	}
	return tw.Flush()
}
