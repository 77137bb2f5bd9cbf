package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleyhq/parley/adapters/admin"
	"github.com/parleyhq/parley/adapters/console"
	"github.com/parleyhq/parley/adapters/host"
	"github.com/parleyhq/parley/adapters/web"
	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/runtime"
)

// Config assembles a server. Store and Flows are required; the caller opens
// and closes the storage behind Store.
type Config struct {
	Store  Backend
	Flows  *Flows
	Logger *slog.Logger
	// Now is the clock (tests move it by hand); time.Now when nil.
	Now func() time.Time
	// WhatsApp enables the WhatsApp channel when not nil.
	WhatsApp *WhatsAppConfig
	// WebChat enables the local web chat at / and /api.
	WebChat bool
	// AdminTokens enables the admin API when not nil (legacy role tokens,
	// kept as service tokens).
	AdminTokens *admin.Tokens
	// Studio enables the authoring studio at /studio when not nil.
	Studio *StudioConfig
	// Staff enables the admin API with per-person accounts and API tokens,
	// and the console sign-in pages (/console/login).
	Staff *admin.Staff
	// SessionIdle, SessionMax and SecureCookies configure console
	// sessions (see admin.Config).
	SessionIdle, SessionMax time.Duration
	SecureCookies           bool
	// Caller performs integration calls; nil makes every call step fail
	// (and follow its on_fail), which is safe but useless in production.
	Caller runtime.Caller
	// Notices delivers the erasure and stop notices the vault queues for
	// the recipients of a subject's data (usually the same HTTPCaller);
	// nil leaves them queued, durably, for a server that has one.
	Notices Notifier
	// NoticeEvery is how often due notice retries are attempted (default
	// 30s); new notices go out at once.
	NoticeEvery time.Duration
	// Workers and QueueDepth size the per-subject turn pool (defaults 2×CPU
	// workers… see withDefaults).
	Workers, QueueDepth int
	// Lease and ClaimEvery tune the sharing of work between instances on
	// a shared store (host.Config).
	Lease, ClaimEvery time.Duration
	// CanWrite, when set, is asked before each inbound message is stored
	// (cmd/parley: the data directory's free space): while it fails,
	// webhooks are answered 500 so the channel redelivers, and /readyz
	// reports unready.
	CanWrite func() error
	// SweepEvery runs the retention sweeper this often (default 10m; <0 off).
	SweepEvery time.Duration
	// RemindEvery is how often reminders that flows scheduled are queued
	// when due (default 30s).
	RemindEvery time.Duration
	// HandoffEvery is how often hand-offs past their timeout are taken
	// back from the team (default 1m; <0 off).
	HandoffEvery time.Duration
	// ReadTimeout, WriteTimeout and IdleTimeout bound HTTP connections.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Drain bounds how long Shutdown drains before it closes the listener
	// (default 2s; <0: no drain): see Shutdown.
	Drain time.Duration
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Workers <= 0 {
		c.Workers = 64
	}
	if c.QueueDepth <= 0 {
		c.QueueDepth = 256
	}
	if c.NoticeEvery <= 0 {
		c.NoticeEvery = 30 * time.Second
	}
	if c.HandoffEvery == 0 {
		c.HandoffEvery = time.Minute
	}
	if c.SweepEvery == 0 {
		c.SweepEvery = 10 * time.Minute
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.Drain == 0 {
		c.Drain = 2 * time.Second
	}
	return c
}

// Metrics are the server's Prometheus metrics (the host's).
type Metrics = host.Metrics

// senders is the WhatsApp channel's number of sending workers.
func (c Config) senders() int {
	if c.WhatsApp != nil {
		return c.WhatsApp.Senders
	}
	return 0
}

// Server is a running Parley server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   Backend
	engine  *runtime.Engine
	flows   *Flows
	metrics *Metrics
	app     *fiber.App
	host    *host.Host
	hostOn  bool // a channel needs the host's workers
	ready   atomic.Bool
	cancel  context.CancelFunc
	bg      chan struct{}
	notices chan struct{} // closed when the notice loop has stopped
	// waClient sends broadcasts (nil without the WhatsApp channel);
	// broadcasts holds the running ones, which Shutdown waits for.
	waClient   *whatsapp.Client
	broadcasts sync.WaitGroup
	runningMu  sync.Mutex
	running    map[string]bool // flow/template of the broadcasts running
	bgCtx      context.Context
	// handoffs is closed when the hand-off timeout loop has stopped.
	handoffs chan struct{}
	// The drain (Shutdown): whether Serve was called and the drain has
	// begun, requests in progress and when the last one began (UnixNano).
	served   atomic.Bool
	draining atomic.Bool
	// ln is the listener Serve was given, closed by Shutdown too: a Serve
	// that begins after Shutdown must not go on serving.
	ln       atomic.Pointer[net.Listener]
	inflight atomic.Int64
	lastReq  atomic.Int64
}

// New builds the server and its routes. Nothing runs until Start.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Flows == nil {
		return nil, errors.New("server: Store and Flows are required")
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, store: cfg.Store, flows: cfg.Flows, metrics: host.NewMetrics()}
	s.engine = &runtime.Engine{Lookup: cfg.Flows.Get, Store: s.store, Caller: cfg.Caller, Now: cfg.Now}
	var err error
	s.host, err = host.New(host.Config{Store: s.store, Engine: s.engine, Metrics: s.metrics, Logger: cfg.Logger, Now: cfg.Now,
		Workers: cfg.Workers, QueueDepth: cfg.QueueDepth, Senders: cfg.senders(), CanWrite: cfg.CanWrite,
		RemindEvery: cfg.RemindEvery, Lease: cfg.Lease, ClaimEvery: cfg.ClaimEvery})
	if err != nil {
		return nil, err
	}

	s.app = fiber.New(fiber.Config{
		DisableStartupMessage: true,
		AppName:               "parley",
		BodyLimit:             whatsapp.MaxBodyBytes + 64<<10,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		ErrorHandler:          web.NewErrorHandler(cfg.Logger),
	})
	// Tell keep-alive clients to reconnect elsewhere once shutdown begins.
	// (A connection that never sent a request is closed after 5 s, as in
	// net/http, which bounds how long Shutdown can wait for it.)
	s.app.Server().CloseOnShutdown = true
	s.app.Use(s.track)
	s.app.Use(recover.New())
	s.app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok\n") })
	s.app.Get("/readyz", func(c *fiber.Ctx) error {
		if !s.ready.Load() {
			return c.Status(fiber.StatusServiceUnavailable).SendString("not ready\n")
		}
		if err := s.host.Ready(); err != nil {
			// Not the error itself: it may name the data directory.
			return c.Status(fiber.StatusServiceUnavailable).SendString("not ready: storage is failing or the disk is nearly full\n")
		}
		return c.SendString("ready\n")
	})
	s.app.Get("/metrics", s.updateGauges, adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{})))

	if cfg.WhatsApp != nil {
		wa, err := newWhatsApp(s, *cfg.WhatsApp)
		if err != nil {
			return nil, err
		}
		wa.Register(s.app, s.host, cfg.WhatsApp.Flow)
		s.hostOn = true
	}
	if cfg.AdminTokens != nil || cfg.Staff != nil {
		admin.Register(s.app, s.adminConfig())
		console.Register(s.app)
	}
	if cfg.Studio != nil {
		if err := s.registerStudio(); err != nil {
			return nil, err
		}
	}
	if cfg.WebChat {
		key, err := cfg.Store.WebSessionKey()
		if err != nil {
			return nil, fmt.Errorf("server: web chat session key: %w", err)
		}
		// Registered after WhatsApp: inbox and outbox entries stored before
		// entries named their channel belong to the first channel.
		s.host.Register(web.Channel{}, "")
		web.Register(s.app, web.Config{Chat: webChatter{s}, Logger: cfg.Logger, SessionKey: key})
	}
	return s, nil
}

func (s *Server) adminConfig() admin.Config {
	return admin.Config{
		Tokens: s.cfg.AdminTokens, Backend: adminBackend{s}, Metrics: adminBackend{s}, Handoffs: consoleBackend{s},
		Logger: s.cfg.Logger, Now: s.cfg.Now,
		Staff: s.cfg.Staff, SessionIdle: s.cfg.SessionIdle, SessionMax: s.cfg.SessionMax, SecureCookies: s.cfg.SecureCookies,
		SubjectRef: func(channel, user string) string { return s.store.Subject(channel, user) },
	}
}

// adminGuard admits requests with an admin token whose role may use the
// studio (the admin API's own check, lockout and audit).
func (s *Server) adminGuard() fiber.Handler { return admin.Guard(s.adminConfig(), admin.ActionStudio) }

// App returns the Fiber app, for tests (app.Test) and for Serve.
func (s *Server) App() *fiber.App { return s.app }

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Start recovers unprocessed inbound messages and unsent replies, and starts
// the background workers. The server is ready when it returns.
func (s *Server) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	s.bgCtx = ctx
	s.bg = make(chan struct{})
	if s.cfg.SweepEvery > 0 {
		go func() {
			defer close(s.bg)
			every(ctx, s.cfg.SweepEvery, func() {
				expired, err := s.store.Sweep(ctx, s.cfg.Now())
				if err != nil {
					s.log.Error("retention sweep failed", "err", err)
					return
				}
				s.metrics.Expired.Add(float64(expired))
			})
		}()
	} else {
		close(s.bg)
	}
	s.handoffs = make(chan struct{})
	if s.cfg.HandoffEvery > 0 {
		go func() {
			defer close(s.handoffs)
			every(ctx, s.cfg.HandoffEvery, func() {
				if _, err := s.ExpireHandoffs(ctx); err != nil {
					s.log.Error("hand-off timeouts: read queue", "err", err)
				}
			})
		}()
	} else {
		close(s.handoffs)
	}
	s.notices = make(chan struct{})
	if s.cfg.Notices != nil {
		go func() {
			defer close(s.notices)
			s.noticeLoop(ctx)
		}()
	} else {
		close(s.notices)
	}
	if s.hostOn {
		if err := s.host.Start(ctx); err != nil {
			return err
		}
	}
	s.ready.Store(true)
	return nil
}

// every runs fn every d until ctx is done.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// RunReminders queues the reminders due now (the server also does so every
// RemindEvery); it returns how many were queued and cancelled unsent.
func (s *Server) RunReminders(ctx context.Context) (queued, cancelled int, err error) {
	return s.host.RunReminders(ctx)
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.served.Store(true)
	s.ln.Store(&ln)
	if s.draining.Load() {
		// Shutdown has begun (Serve's goroutine started late): its
		// listener close may have run before this listener was known.
		ln.Close()
		return nil
	}
	return s.app.Listener(drainListener{ln, s})
}

// Shutdown drains, stops accepting requests, lets in-flight requests and
// queued turns finish, tries to flush the outbox until ctx is done, and
// stops the background work. The caller closes the vault afterwards.
// Whatever is not sent by then stays in the durable outbox for the next
// start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	s.drain(ctx)
	err := s.app.ShutdownWithContext(ctx)
	if ln := s.ln.Load(); ln != nil {
		(*ln).Close() // a Serve that began during the drain (see Serve)
	}
	if s.hostOn {
		err = errors.Join(err, s.host.Stop(ctx))
	}
	if s.cancel != nil {
		s.cancel()
		s.broadcasts.Wait() // interrupted: the next run resumes them
		<-s.bg
		<-s.handoffs
		<-s.notices
		s.host.Wait()
	}
	return err
}

// track counts the requests in progress for the drain. Once Shutdown has
// begun, each response closes its connection, so a keep-alive client opens
// a new one instead of sending on a connection about to be closed under
// it, and a request on a connection accepted since is answered 503 at once
// (nothing stored: the sender delivers it again, to the next server).
func (s *Server) track(c *fiber.Ctx) error {
	s.inflight.Add(1)
	s.lastReq.Store(time.Now().UnixNano())
	defer s.inflight.Add(-1)
	if !s.draining.Load() {
		return c.Next()
	}
	c.Context().SetConnectionClose()
	if lc, ok := c.Context().Conn().(*drainConn); ok && !lc.early {
		c.Set(fiber.HeaderRetryAfter, "1")
		return c.Status(fiber.StatusServiceUnavailable).SendString("shutting down\n")
	}
	return c.Next()
}

// drainQuiet is how long no request must have begun, with none in
// progress, for the drain to end before Config.Drain.
const drainQuiet = 100 * time.Millisecond

// drain is the first step of Shutdown. A listener closed while clients
// still send resets the connections the kernel completed but the server
// had not accepted yet, and a keep-alive connection closed as its client
// sends on it loses the request: a delivery lost in flight, which the
// sender must notice and retry. So the server goes on accepting while it
// drains: requests on connections it had before finish and close their
// connection, new connections are answered 503 (track). The listener
// closes once no request is in progress and none began for drainQuiet
// (the senders have gone to retry later), or after Config.Drain. (Ending
// when the earlier connections are gone is too soon: senders still open
// new ones, and those the kernel has queued when the listener closes are
// reset.)
func (s *Server) drain(ctx context.Context) {
	s.draining.Store(true)
	if s.cfg.Drain < 0 || !s.served.Load() {
		return
	}
	end := time.NewTimer(s.cfg.Drain)
	defer end.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.inflight.Load() == 0 && time.Since(time.Unix(0, s.lastReq.Load())) >= drainQuiet {
			return
		}
		select {
		case <-tick.C:
		case <-end.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// drainListener marks the connections it accepts before the drain began.
type drainListener struct {
	net.Listener
	s *Server
}

func (l drainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &drainConn{Conn: c, early: !l.s.draining.Load()}, nil
}

// drainConn is an accepted connection; early: accepted before the drain.
type drainConn struct {
	net.Conn
	early bool
}

func (s *Server) updateGauges(c *fiber.Ctx) error {
	if s.hostOn {
		s.metrics.OutboxDepth.Set(float64(s.host.OutboxDepth()))
	}
	return c.Next()
}

// webChatter connects the web chat page to the engine.
type webChatter struct{ s *Server }

func (w webChatter) Chat(ctx context.Context, flowID, user string, in runtime.Inbound) ([]runtime.Message, error) {
	if _, ok := w.s.flows.Get(flowID); !ok {
		return nil, web.ErrUnknownFlow
	}
	return w.s.host.Chat(ctx, web.ChannelName, flowID, strings.TrimPrefix(user, web.UserPrefix), in)
}

var _ web.Collector = webChatter{}

// Collect implements web.Collector: what the team said to the visitor.
func (w webChatter) Collect(ctx context.Context, user string) ([]runtime.Message, error) {
	return w.s.host.Collect(ctx, web.ChannelName, strings.TrimPrefix(user, web.UserPrefix))
}

func (w webChatter) Flows() []web.FlowInfo {
	var out []web.FlowInfo
	for _, p := range w.s.flows.All() {
		out = append(out, web.FlowInfo(flowInfo(p)))
	}
	return out
}

type info struct {
	ID          string
	Version     int
	Description string
	Languages   []string
}

func flowInfo(p *compile.Program) info {
	return info{ID: p.ID(), Version: p.Version(), Description: p.Description(), Languages: p.Languages()}
}

// describe is used in logs: flow ids and counts only.
func (s *Server) describe() string {
	var ids []string
	for _, p := range s.flows.All() {
		ids = append(ids, fmt.Sprintf("%s@%d", p.ID(), p.Version()))
	}
	return strings.Join(ids, ", ")
}
