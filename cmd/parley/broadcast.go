package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

func init() {
	register(&command{
		name:    "broadcast",
		summary: "send one approved template to the customers who consented to its purpose",
		usage:   "parley broadcast --flow ID --template NAME --data DIR [--flows DIR] [--dry-run] [--rate N] [--only FILE]",
		help: `Sends one template declared under templates: in a flow to every customer
whose latest consent for the template's purpose is a grant, and to nobody
else: a customer who declined, withdrew, typed STOP or was erased is never
sent anything, whatever --only says. --only FILE narrows the audience to
the customers listed (CHANNEL:ID per line, such as whatsapp:15550001234);
it never adds anyone.

  --dry-run   prints the audience size and a sample of pseudonymous
              references, and sends nothing
  --rate N    messages per second (default 20, under WhatsApp's 80 per
              second, so ongoing conversations keep room)

Each customer's consent is read again right before their message, so a STOP
that reached the data meanwhile stops the next send. Progress is recorded
per customer: after a crash, the same command resumes the broadcast,
skipping those already sent; only a message whose send had started when
the process died is sent again (counted in the summary as possibly
delivered twice). The start, the end and dry runs are written to the audit
log with the audience size. Stop parley serve first when the data is in a
directory (--data): a directory is opened by one process at a time. On a
database (--store) one broadcast of a template runs at a time, whoever
starts it (this command on any machine, or the admin API of any parley
serve): a second start is refused, and a broadcast whose process died is
resumed by the next start once a minute has passed without progress.

The WhatsApp settings come from the environment, as for parley serve:
PARLEY_WHATSAPP_ACCESS_TOKEN, PARLEY_WHATSAPP_PHONE_NUMBER_ID and, for
tests, PARLEY_WHATSAPP_GRAPH_URL.

Exit status: 0 when every message was sent (or the dry run printed), 1
when some were refused by WhatsApp, 2 on usage errors, 3 when the data or
the flows cannot be used.`,
		run: runBroadcast,
	})
}

func runBroadcast(c *cli, args []string) int {
	fs := c.flags(commands["broadcast"])
	vf := addVaultFlags(fs, "")
	flowID := fs.String("flow", "", "the flow that declares the template (its id)")
	tplName := fs.String("template", "", "the template, as named under templates:")
	flowsDir := fs.String("flows", "flows", "the flow files or directory (as for serve)")
	dry := fs.Bool("dry-run", false, "count and sample the audience; send nothing")
	rate := fs.Float64("rate", session.DefaultBroadcastRate, "messages per second")
	only := fs.String("only", "", "file of customers (CHANNEL:ID per line) to narrow the audience to")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if *flowID == "" || *tplName == "" {
		fmt.Fprintln(c.stderr, "parley broadcast: name the flow and the template: --flow newsletter --template monthly_issue")
		return exitUsage
	}
	if !c.hasVault(vf) {
		fmt.Fprintln(c.stderr, "parley broadcast: name the data directory with --data DIR (or the database with --store URL)")
		return exitUsage
	}
	if *rate <= 0 || *rate > 80 {
		fmt.Fprintln(c.stderr, "parley broadcast: --rate is messages per second, more than 0 and at most 80 (WhatsApp's default limit)")
		return exitUsage
	}
	flows, report, err := server.LoadFlows(*flowsDir)
	fmt.Fprint(c.stderr, report)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley broadcast: the flows in %s cannot be used (%v): fix them with parley lint, or point --flows at the files parley serve uses\n", *flowsDir, err)
		return exitFailure
	}
	p, ok := flows.Get(*flowID)
	if !ok {
		fmt.Fprintf(c.stderr, "parley broadcast: no flow in %s has id %q\n", *flowsDir, *flowID)
		return exitUsage
	}
	tpl, ok := p.Template(*tplName)
	if !ok {
		var names []string
		for _, t := range p.Templates() {
			names = append(names, t.Key)
		}
		fmt.Fprintf(c.stderr, "parley broadcast: flow %q declares no template %q under templates: (it declares: %s)\n", *flowID, *tplName, strings.Join(names, ", "))
		return exitUsage
	}
	var client *whatsapp.Client
	if !*dry {
		client = &whatsapp.Client{BaseURL: c.getenv("PARLEY_WHATSAPP_GRAPH_URL"), AccessToken: c.getenv("PARLEY_WHATSAPP_ACCESS_TOKEN"),
			PhoneNumberID: c.getenv("PARLEY_WHATSAPP_PHONE_NUMBER_ID")}
		if client.AccessToken == "" || client.PhoneNumberID == "" {
			fmt.Fprintln(c.stderr, "parley broadcast: set PARLEY_WHATSAPP_ACCESS_TOKEN and PARLEY_WHATSAPP_PHONE_NUMBER_ID (as for parley serve), or use --dry-run")
			return exitUsage
		}
		if client.BaseURL != "" {
			if err := checkGraphURL(client.BaseURL); err != nil {
				fmt.Fprintf(c.stderr, "parley broadcast: PARLEY_WHATSAPP_GRAPH_URL: %v\n", err)
				return exitUsage
			}
		}
	}
	v, err := c.openVault(vf, nil, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley broadcast: %v\n", err)
		return exitFailure
	}
	defer v.Close()
	store := session.New(v)
	b := session.Broadcast{Flow: *flowID, Template: *tplName, Purpose: tpl.Purpose, Params: tpl.ParamNames,
		Rate: *rate, DryRun: *dry, Actor: "cli"}
	if *only != "" {
		b.Only, err = readAudience(*only, store)
		if err != nil {
			fmt.Fprintf(c.stderr, "parley broadcast: --only %s: %v\n", *only, err)
			return exitUsage
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := store.Broadcast(ctx, b, func(ctx context.Context, ct session.Contact, params []string) error {
		if ct.Channel != "whatsapp" {
			return errors.New("only WhatsApp customers can be sent a template")
		}
		_, err := client.Send(ctx, whatsapp.RenderTemplate(ct.To, tpl.Name, tpl.Language, params))
		return err
	})
	if *dry {
		fmt.Fprintf(c.stdout, "dry run: template %s (%s, %s) of flow %s would go to %d customers with a current consent for %q\n",
			tpl.Name, tpl.Language, tpl.Category, *flowID, res.Audience, tpl.Purpose)
		if len(res.Sample) > 0 {
			fmt.Fprintf(c.stdout, "sample: %s\n", strings.Join(res.Sample, " "))
		}
	} else if res.ID != "" {
		how := "started"
		if res.Resumed {
			how = "resumed"
		}
		fmt.Fprintf(c.stdout, "broadcast %s (%s): template %s to %d customers with a current consent for %q: %d sent, %d sent before, %d skipped (consent withdrawn or data gone), %d refused\n",
			res.ID, how, tpl.Name, res.Audience, tpl.Purpose, res.Sent, res.Already, res.Skipped, res.Failed)
		if res.Resent > 0 {
			fmt.Fprintf(c.stdout, "%d sent again because the interrupted run had started sending to them: each may have received it twice\n", res.Resent)
		}
	}
	var busy *vault.BroadcastBusy
	if errors.As(err, &busy) {
		fmt.Fprintf(c.stderr, "parley broadcast: the broadcast of template %s in flow %s is already running (broadcast %s, by another parley broadcast or a POST /admin/v1/broadcasts); nothing was sent. Wait for it to finish; if the process running it died, run this command again after %s to resume it\n",
			*tplName, *flowID, busy.ID, busy.Until.UTC().Format("15:04:05 UTC"))
		return exitFailure
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "parley broadcast: %v\n", err)
		if ctx.Err() != nil {
			fmt.Fprintln(c.stderr, "parley broadcast: interrupted; run the same command again to resume")
		}
		return exitFailure
	}
	if res.Failed > 0 {
		fmt.Fprintf(c.stderr, "parley broadcast: WhatsApp refused %d messages (see its error codes in WhatsApp Manager); they are not retried\n", res.Failed)
		return exitFindings
	}
	return exitOK
}

// readAudience reads CHANNEL:ID lines into the set of their subjects.
func readAudience(path string, store *session.Store) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		channel, id, ok := parseCustomer(s)
		if !ok {
			return nil, fmt.Errorf("line %d is not CHANNEL:ID (such as whatsapp:15550001234)", line)
		}
		out[store.Subject(channel, id)] = true
	}
	return out, sc.Err()
}
