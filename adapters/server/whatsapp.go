package server

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp"
)

// WhatsAppConfig configures the WhatsApp channel (from PARLEY_WHATSAPP_*).
type WhatsAppConfig struct {
	AppSecret     string
	AccessToken   string
	VerifyToken   string
	PhoneNumberID string
	// Flow is the flow id that answers new conversations.
	Flow       string
	GraphURL   string // default whatsapp.DefaultBaseURL
	APIVersion string // default whatsapp.DefaultAPIVersion
	// RatePerSecond is the messages-per-second ceiling for the business
	// number. Zero selects the default: 80 (Meta's standard throughput) when
	// GraphURL is Meta's own host, none for any other URL (a test double or a
	// proxy that paces itself). Negative: no ceiling.
	RatePerSecond float64
	// UserGap is the minimum spacing between two messages to one user
	// (default 0: replies of one turn go out back to back, in order).
	UserGap time.Duration
	// MaxAttempts bounds retries of one message (default 0: none; a reply
	// is retried while the customer's window is open).
	MaxAttempts int
	// RetryDelay decides whether and after how long a failed send is
	// retried; nil uses whatsapp.RetryDelay with full jitter (capped at
	// 60 s). Tests shorten the waits with it.
	RetryDelay func(err error, attempt int) (time.Duration, bool)
	// HTTP is the client used for the Graph API (default: 15 s timeout).
	HTTP *http.Client
	// Senders is the number of concurrent sending workers (default 32).
	Senders int
	// ReadReceipts marks inbound messages as read (default off).
	ReadReceipts bool
	// MaxAge is how old (by its WhatsApp timestamp, against the server's
	// clock at receipt) a message may be and still drive a turn (default
	// DefaultMaxAge). Older ones are acknowledged, deduplicated, counted in
	// parley_webhook_stale_total{reason="old"} and dropped.
	MaxAge time.Duration
}

// DefaultMaxAge is the default WhatsAppConfig.MaxAge (whatsapp.DefaultMaxAge).
const DefaultMaxAge = whatsapp.DefaultMaxAge

// newWhatsApp checks cfg and builds the channel from it.
func newWhatsApp(s *Server, cfg WhatsAppConfig) (*whatsapp.Channel, error) {
	if cfg.AppSecret == "" || cfg.PhoneNumberID == "" || cfg.AccessToken == "" || cfg.Flow == "" {
		return nil, errors.New("whatsapp: PARLEY_WHATSAPP_APP_SECRET, _ACCESS_TOKEN, _PHONE_NUMBER_ID and _FLOW are all required")
	}
	if _, ok := s.flows.Get(cfg.Flow); !ok {
		return nil, errors.New("whatsapp: PARLEY_WHATSAPP_FLOW names a flow that is not loaded: " + cfg.Flow)
	}
	if cfg.RatePerSecond == 0 {
		cfg.RatePerSecond = -1
		if u := strings.TrimRight(cfg.GraphURL, "/"); u == "" || u == whatsapp.DefaultBaseURL {
			cfg.RatePerSecond = 80
		}
	}
	if cfg.RetryDelay == nil {
		cfg.RetryDelay = func(err error, attempt int) (time.Duration, bool) {
			return whatsapp.RetryDelay(err, attempt, rand.Float64)
		}
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}}
	}
	var pacer *whatsapp.Pacer
	if cfg.RatePerSecond > 0 || cfg.UserGap > 0 {
		rate := cfg.RatePerSecond
		if rate <= 0 {
			rate = 1e9
		}
		pacer = whatsapp.NewPacer(rate, max(1, int(rate)), cfg.UserGap, s.cfg.Now)
	}
	s.waClient = &whatsapp.Client{BaseURL: cfg.GraphURL, APIVersion: cfg.APIVersion, PhoneNumberID: cfg.PhoneNumberID,
		AccessToken: cfg.AccessToken, HTTP: cfg.HTTP}
	return whatsapp.NewChannel(whatsapp.ChannelConfig{
		AppSecret: cfg.AppSecret, VerifyToken: cfg.VerifyToken, PhoneNumberID: cfg.PhoneNumberID,
		Client: s.waClient,
		Pacer:  pacer, MaxAttempts: cfg.MaxAttempts, RetryDelay: cfg.RetryDelay, MaxAge: cfg.MaxAge,
		ReadReceipts: cfg.ReadReceipts, Template: s.outsideWindowTemplate,
	}), nil
}

// outsideWindowTemplate returns a flow's re-engagement template, if any.
func (s *Server) outsideWindowTemplate(flowID string) (name, lang string, ok bool) {
	p, ok := s.flows.Get(flowID)
	if !ok {
		return "", "", false
	}
	t, ok := p.OutsideWindowTemplate()
	return t.Name, t.Language, ok
}
