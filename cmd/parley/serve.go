package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	_ "net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/parleyhq/parley/adapters/admin"
	"github.com/parleyhq/parley/adapters/host"
	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "serve flows over WhatsApp and a local web chat",
		usage:   "parley serve [--addr 127.0.0.1:8080] [--flows DIR] [--data DIR or --store URL] [flags]",
		help: `Serves every flow in --flows. With no other settings it opens the local web
chat at http://127.0.0.1:8080, keeping data encrypted in ./data (a development
master key is created there on first run, with a warning). With --store
postgres://USER@HOST/DB (or PARLEY_STORE_URL) the data is kept in that
PostgreSQL database instead, and the master key must be set
(PARLEY_MASTER_KEY or --key-file); see docs/storage.md. Several instances
may serve one database: they share the inbox and the outbox, each
conversation worked on by one instance at a time (see --lease and
docs/deploy.md).

WhatsApp is enabled when these environment variables are set:
  PARLEY_WHATSAPP_APP_SECRET       app secret, verifies X-Hub-Signature-256
  PARLEY_WHATSAPP_ACCESS_TOKEN     system-user token for the Graph API
  PARLEY_WHATSAPP_VERIFY_TOKEN     token of the webhook GET handshake
  PARLEY_WHATSAPP_PHONE_NUMBER_ID  the business number's id
  PARLEY_WHATSAPP_FLOW             flow id that answers new conversations
  PARLEY_WHATSAPP_GRAPH_URL        default https://graph.facebook.com
  PARLEY_WHATSAPP_API_VERSION      default v25.0
  PARLEY_WHATSAPP_RATE             messages per second ceiling (default 80 when
                                   talking to graph.facebook.com, else none)
  PARLEY_WHATSAPP_USER_GAP         minimum time between two messages to one
                                   customer, such as 500ms (default 0)
  PARLEY_WHATSAPP_MAX_AGE          oldest message (by its WhatsApp timestamp)
                                   that still runs a turn, such as 2h
                                   (default 24h; older ones are dropped)
The webhook is /webhook/whatsapp; docs/whatsapp.md walks through the setup.
PARLEY_ADDRESS_KEY (a public key from 'parley incident keygen') makes the
server hold each WhatsApp customer's number sealed to it, so that
'parley incident notify' can reach them after a breach; without it no
number is held. See docs/privacy.md, "Breach notification".

The authoring studio (/studio: edit a flow with live lint results, chat
with it as a test user, see its graph, data map and the test user's data,
move the test user's clock, erase it) is on by default and answers only
clients on this machine; --studio=false turns it off, --studio-remote
admits other machines signed in (or with an API token) as role admin. See
docs/authoring.md.

Staff sign in at /console/login with their account ('parley staff add'),
a password and, for operators, DPOs and admins, a second factor; the
session cookie ends after --session-idle without use and --session-max
after sign-in. The admin API (/admin/v1) takes that session (with the
X-CSRF-Token header on changes) or an API token ('parley staff token add');
the operator console at /console answers hand-offs to a person and
data-subject requests.
--admin-tokens FILE and PARLEY_ADMIN_TOKENS ("role:token" entries) still
work as service tokens but are deprecated: they cannot expire or be
revoked without a restart. The master key comes from PARLEY_MASTER_KEY or --key-file. Other
endpoints: /healthz, /readyz, /metrics (Prometheus).

A flow with lint errors stops the server from starting (exit 1). SIGINT or
SIGTERM stop it gracefully: no new requests, in-flight turns finish, the
outbox is flushed for up to --shutdown-timeout, then the vault is closed.`,
		run: runServe,
	})
}

func runServe(c *cli, args []string) int {
	fs := c.flags(commands["serve"])
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	flowsDir := fs.String("flows", "flows", "directory of flow files to serve")
	vf := addVaultFlags(fs, "data")
	tokensFile := fs.String("admin-tokens", "", "deprecated: file of shared admin API tokens (role:token per line); use 'parley staff token add'")
	sessionIdle := fs.Duration("session-idle", admin.DefaultSessionIdle, "end a console session after this long without a request")
	sessionMax := fs.Duration("session-max", admin.DefaultSessionMax, "end a console session this long after sign-in, however busy")
	secureCookies := fs.Bool("secure-cookies", false, "mark console cookies Secure (__Host- prefix) even over plain HTTP: set it when a proxy in front ends TLS (HTTPS requests get them anyway)")
	webChat := fs.String("web-chat", "auto", "local web chat at /: on, off, or auto (on when --addr is a loopback address)")
	studioOn := fs.Bool("studio", true, "serve the authoring studio at /studio (to clients on this machine only)")
	studioRemote := fs.Bool("studio-remote", false, "also serve the studio to other machines, behind an admin token of role admin")
	workers := fs.Int("workers", 64, "concurrent conversation workers")
	shutdown := fs.Duration("shutdown-timeout", 15*time.Second, "how long to flush the outbox on shutdown")
	lease := fs.Duration("lease", 30*time.Second, "with --store: how long another instance waits before taking over the work of one that died (renewed every third of it while working)")
	claimEvery := fs.Duration("claim-every", 250*time.Millisecond, "with --store: how often to look for work other instances stored")
	minFree := fs.Uint64("min-free", defaultMinFreeMiB, "MiB the data directory's disk must keep free; below it webhooks are refused (5xx) and /readyz is unready")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	debugAddr := fs.String("debug-addr", "", "serve Go pprof profiles on this loopback address (off by default)")
	memLimit := fs.Int64("memory-limit", defaultMemoryLimitMiB, "MiB the Go heap should stay under, the garbage collector working harder as it nears it (0: no limit; default PARLEY_MEMORY_LIMIT, else GOMEMLIMIT, else 112)")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "parley serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *sessionIdle <= 0 || *sessionMax <= 0 || *sessionIdle > *sessionMax {
		fmt.Fprintln(c.stderr, "parley serve: --session-idle and --session-max must be positive, and the idle timeout no longer than the maximum (such as --session-idle 30m --session-max 12h)")
		return exitUsage
	}
	var h slog.Handler = slog.NewTextHandler(c.stderr, nil)
	if *logFormat == "json" {
		h = slog.NewJSONHandler(c.stderr, nil)
	} else if *logFormat != "text" {
		fmt.Fprintln(c.stderr, "parley serve: --log-format must be text or json")
		return exitUsage
	}
	log := slog.New(h)
	if code, ok := setMemoryLimit(c, fs, *memLimit); !ok {
		return code
	}

	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley serve: --addr %q is not host:port\n", *addr)
		return exitUsage
	}
	loopback := host == "localhost" || isLoopbackIP(host)
	web := loopback
	switch *webChat {
	case "on":
		web = true
	case "off":
		web = false
	case "auto":
	default:
		fmt.Fprintln(c.stderr, "parley serve: --web-chat must be on, off or auto")
		return exitUsage
	}
	if web && !loopback {
		log.Warn("the web chat is exposed on a non-loopback address; anyone who can reach it can chat and their data is stored")
	}

	flows, report, err := server.LoadFlows(*flowsDir)
	if report != "" {
		fmt.Fprint(c.stderr, report)
	}
	if errors.Is(err, server.ErrFlowErrors) {
		fmt.Fprintf(c.stderr, "parley serve: not starting: %v\n", err)
		return exitFindings
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "parley serve: %v\n", err)
		return exitFailure
	}

	var tokens *admin.Tokens
	if *tokensFile != "" || c.getenv("PARLEY_ADMIN_TOKENS") != "" {
		tokens, err = admin.LoadTokens(*tokensFile, c.getenv("PARLEY_ADMIN_TOKENS"))
		if err != nil {
			fmt.Fprintf(c.stderr, "parley serve: admin tokens: %v\n", err)
			return exitFailure
		}
		log.Warn("--admin-tokens and PARLEY_ADMIN_TOKENS are deprecated: shared role tokens never expire and are revoked only by a restart; give each person an account ('parley staff add') and each automation a named, expiring token ('parley staff token add')",
			"tokens", tokens.Len())
	}
	var studioCfg *server.StudioConfig
	if *studioOn {
		studioCfg = &server.StudioConfig{Remote: *studioRemote}
	}
	if *studioRemote && !*studioOn {
		fmt.Fprintln(c.stderr, "parley serve: --studio-remote needs the studio on: drop --studio=false")
		return exitUsage
	}
	wa, err := whatsAppFromEnv(c.getenv)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley serve: %v\n", err)
		return exitUsage
	}

	if *debugAddr != "" {
		dh, _, err := net.SplitHostPort(*debugAddr)
		if err != nil || !isLoopbackIP(dh) {
			fmt.Fprintln(c.stderr, "parley serve: --debug-addr must be a loopback address such as 127.0.0.1:6060")
			return exitUsage
		}
		go http.ListenAndServe(*debugAddr, nil) // net/http/pprof registers on the default mux
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley serve: cannot listen on %s: %v\n", *addr, err)
		return exitFailure
	}
	v, err := c.createVault(*vf.data, c.storeURL(vf.store), *vf.keyFile, nil, log)
	if err != nil {
		ln.Close()
		fmt.Fprintf(c.stderr, "parley serve: %v\n", err)
		return exitFailure
	}
	defer v.Close()
	if pub := c.getenv("PARLEY_ADDRESS_KEY"); pub != "" {
		k, err := vault.ParseAddressPublicKey(pub)
		if err != nil {
			ln.Close()
			fmt.Fprintf(c.stderr, "parley serve: PARLEY_ADDRESS_KEY: %v\n", err)
			return exitUsage
		}
		v.HoldAddresses(k)
	}

	store := session.New(v)
	caller := &server.HTTPCaller{Getenv: c.getenv, Ref: store.RecipientRef, Client: integrationClient()}
	srv, err := server.New(server.Config{
		Store: store, Flows: flows, Logger: log, WhatsApp: wa, WebChat: web, AdminTokens: tokens, Studio: studioCfg,
		Staff: admin.NewStaff(v, nil, store.Audit), SessionIdle: *sessionIdle, SessionMax: *sessionMax, SecureCookies: *secureCookies,
		Caller: caller, Notices: caller, Workers: *workers, Lease: *lease, ClaimEvery: *claimEvery,
		CanWrite: diskGuard(*vf.data, *minFree<<20, diskFree, time.Now),
	})
	if err != nil {
		ln.Close()
		fmt.Fprintf(c.stderr, "parley serve: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Start(context.Background()); err != nil {
		ln.Close()
		fmt.Fprintf(c.stderr, "parley serve: %v\n", err)
		return exitFailure
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	channels := "web chat"
	if !web {
		channels = "no web chat"
	}
	if wa != nil {
		channels += ", WhatsApp"
	}
	if wa != nil && wa.VerifyToken == "" {
		log.Warn("PARLEY_WHATSAPP_VERIFY_TOKEN is not set: the webhook handshake is refused, so Meta cannot (re)subscribe the webhook")
	}
	log.Info("parley is serving", "addr", "http://"+ln.Addr().String(), "flows", len(flows.All()), "channels", channels, "console", "http://"+ln.Addr().String()+"/console", "legacy_admin_tokens", tokens != nil)
	if web {
		fmt.Fprintf(c.stderr, "Open http://%s in a browser to chat with the flows. Ctrl-C stops.\n", ln.Addr())
	}
	if studioCfg != nil {
		fmt.Fprintf(c.stderr, "The studio is at http://%s/studio (on this machine).\n", ln.Addr())
	}

	select {
	case err := <-serveErr:
		if err != nil {
			fmt.Fprintf(c.stderr, "parley serve: %v\n", err)
			return exitFailure
		}
		return exitOK
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), *shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown incomplete", "err", err)
	}
	log.Info("stopped")
	return exitOK
}

// integrationClient is the HTTP client of integration calls and notices. A
// 3xx answer fails the call (on_fail): an integration must answer at the
// address the flow declares.
func integrationClient() *http.Client {
	return &http.Client{CheckRedirect: whatsapp.RefuseRedirect}
}

// graphClient is the HTTP client of the WhatsApp sender: the pool the
// server would use by default, following no redirect (a 3xx fails the send
// like any other error answer).
func graphClient() *http.Client {
	return &http.Client{Timeout: 15 * time.Second, CheckRedirect: whatsapp.RefuseRedirect, Transport: &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}}
}

// defaultMemoryLimitMiB is serve's default --memory-limit. At C=64 the
// heap sits at the limit (the GC target of 400 would let it grow further),
// so the limit is most of the anonymous RSS; the live heap under it is
// 60-90 MiB (Badger's pooled table builders, memtables and caches, sized in
// engine/store/badger). 112 rather than 128: 10-22 MiB less peak RSS for
// 3-10% more CPU per turn in an A/B run (bench/findings.md §3); 96 cost
// up to 27% more.
const defaultMemoryLimitMiB = 112

// setMemoryLimit applies --memory-limit (or PARLEY_MEMORY_LIMIT) and the GC
// target. The server keeps little live heap and allocates per request, so a
// high GC target (400, unless GOGC is set) saves GC CPU; alone it would let
// the heap grow to five times the live heap, so the memory limit caps it:
// near the limit the collector runs as often as it must. GOMEMLIMIT is
// honoured when neither the flag nor PARLEY_MEMORY_LIMIT is given.
func setMemoryLimit(c *cli, fs *flag.FlagSet, mib int64) (int, bool) {
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "memory-limit" })
	if !explicit {
		if env := c.getenv("PARLEY_MEMORY_LIMIT"); env != "" {
			v, err := strconv.ParseInt(env, 10, 64)
			if err != nil {
				fmt.Fprintf(c.stderr, "parley serve: PARLEY_MEMORY_LIMIT=%q is not a number of MiB; set it to 256, say, or 0 for no limit\n", env)
				return exitUsage, false
			}
			mib, explicit = v, true
		}
	}
	if mib < 0 {
		fmt.Fprintln(c.stderr, "parley serve: --memory-limit must be a number of MiB, 0 for no limit")
		return exitUsage, false
	}
	if c.getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	switch {
	case !explicit && c.getenv("GOMEMLIMIT") != "":
		// the Go runtime already applied it
	case mib == 0:
		debug.SetMemoryLimit(math.MaxInt64)
	default:
		debug.SetMemoryLimit(mib << 20)
	}
	return 0, true
}

// isLoopbackIP reports whether host is a loopback IP address (127.0.0.0/8, ::1).
func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkGraphURL refuses a Graph API address that would carry the access
// token and customers' messages unencrypted: https, or http only to a
// loopback address (a local fake in tests).
func checkGraphURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return errors.New("PARLEY_WHATSAPP_GRAPH_URL must be a web address such as https://graph.facebook.com, without a user name or password")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && (u.Hostname() == "localhost" || isLoopbackIP(u.Hostname())):
		return nil
	}
	return fmt.Errorf("PARLEY_WHATSAPP_GRAPH_URL uses %s to %s: the access token and customers' messages would travel unencrypted; use https:// (http:// is allowed only to a loopback address such as http://127.0.0.1:8090)", u.Scheme, u.Hostname())
}

// whatsAppFromEnv reads the WhatsApp settings; nil when the channel is off.
func whatsAppFromEnv(getenv func(string) string) (*server.WhatsAppConfig, error) {
	cfg := &server.WhatsAppConfig{
		AppSecret:     getenv("PARLEY_WHATSAPP_APP_SECRET"),
		AccessToken:   getenv("PARLEY_WHATSAPP_ACCESS_TOKEN"),
		VerifyToken:   getenv("PARLEY_WHATSAPP_VERIFY_TOKEN"),
		PhoneNumberID: getenv("PARLEY_WHATSAPP_PHONE_NUMBER_ID"),
		Flow:          getenv("PARLEY_WHATSAPP_FLOW"),
		GraphURL:      getenv("PARLEY_WHATSAPP_GRAPH_URL"),
		APIVersion:    getenv("PARLEY_WHATSAPP_API_VERSION"),
		HTTP:          graphClient(),
	}
	if cfg.AppSecret == "" && cfg.AccessToken == "" && cfg.PhoneNumberID == "" && cfg.Flow == "" {
		return nil, nil
	}
	if cfg.GraphURL != "" {
		if err := checkGraphURL(cfg.GraphURL); err != nil {
			return nil, err
		}
	}
	if r := getenv("PARLEY_WHATSAPP_RATE"); r != "" {
		f, err := strconv.ParseFloat(r, 64)
		if err != nil || f <= 0 {
			return nil, fmt.Errorf("PARLEY_WHATSAPP_RATE must be a positive number of messages per second")
		}
		cfg.RatePerSecond = f
	}
	if g := getenv("PARLEY_WHATSAPP_USER_GAP"); g != "" {
		d, err := time.ParseDuration(g)
		if err != nil || d < 0 || d > time.Minute {
			return nil, fmt.Errorf("PARLEY_WHATSAPP_USER_GAP must be a duration between 0s and 1m, such as 500ms")
		}
		cfg.UserGap = d
	}
	if a := getenv("PARLEY_WHATSAPP_MAX_AGE"); a != "" {
		d, err := time.ParseDuration(a)
		if err != nil || d < time.Minute || d > 7*24*time.Hour {
			return nil, fmt.Errorf("PARLEY_WHATSAPP_MAX_AGE must be a duration between 1m and 168h, such as 24h")
		}
		cfg.MaxAge = d
	}
	var missing []string
	for name, v := range map[string]string{
		"PARLEY_WHATSAPP_APP_SECRET": cfg.AppSecret, "PARLEY_WHATSAPP_ACCESS_TOKEN": cfg.AccessToken,
		"PARLEY_WHATSAPP_PHONE_NUMBER_ID": cfg.PhoneNumberID, "PARLEY_WHATSAPP_FLOW": cfg.Flow,
	} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("WhatsApp is partly configured; also set %v", missing)
	}
	return cfg, nil
}

// The storage the server and its host declare is what engine/session
// provides on the vault.
var (
	_ server.Backend = (*session.Store)(nil)
	_ host.Store     = (*session.Store)(nil)
)
