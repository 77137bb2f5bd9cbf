package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
(PARLEY_MASTER_KEY or --key-file); see docs/storage.md.

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

The admin API (/admin/v1) is enabled by --admin-tokens FILE or
PARLEY_ADMIN_TOKENS ("role:token" entries; roles viewer, operator, dpo,
admin); with it, the operator console at /console answers hand-offs to a
person and data-subject requests. The master key comes from
PARLEY_MASTER_KEY or --key-file. Other endpoints: /healthz, /readyz,
/metrics (Prometheus).

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
	tokensFile := fs.String("admin-tokens", "", "file of admin API tokens (role:token per line)")
	webChat := fs.String("web-chat", "auto", "local web chat at /: on, off, or auto (on when --addr is a loopback address)")
	workers := fs.Int("workers", 64, "concurrent conversation workers")
	shutdown := fs.Duration("shutdown-timeout", 15*time.Second, "how long to flush the outbox on shutdown")
	minFree := fs.Uint64("min-free", defaultMinFreeMiB, "MiB the data directory's disk must keep free; below it webhooks are refused (5xx) and /readyz is unready")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	debugAddr := fs.String("debug-addr", "", "serve Go pprof profiles on this loopback address (off by default)")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "parley serve: unexpected argument %q\n", fs.Arg(0))
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
	if c.getenv("GOGC") == "" {
		// The server keeps little live heap and allocates per request; a
		// higher GC target trades a little memory for less GC CPU.
		debug.SetGCPercent(400)
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

	store := session.New(v)
	caller := &server.HTTPCaller{Getenv: c.getenv, Ref: store.RecipientRef, Client: integrationClient()}
	srv, err := server.New(server.Config{
		Store: store, Flows: flows, Logger: log, WhatsApp: wa, WebChat: web, AdminTokens: tokens,
		Caller: caller, Notices: caller, Workers: *workers,
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
	log.Info("parley is serving", "addr", "http://"+ln.Addr().String(), "flows", len(flows.All()), "channels", channels, "admin", tokens != nil)
	if web {
		fmt.Fprintf(c.stderr, "Open http://%s in a browser to chat with the flows. Ctrl-C stops.\n", ln.Addr())
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
