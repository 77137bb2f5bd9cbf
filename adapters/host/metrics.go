package host

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the server's Prometheus metrics, on a private registry. Labels
// are closed sets (results, channels, flow ids): never a phone number, a
// subject id or message text.
type Metrics struct {
	Registry       *prometheus.Registry
	Webhooks       *prometheus.CounterVec // result: ok, bad_signature, bad_request, duplicate, too_large, error
	Turns          *prometheus.CounterVec // channel
	TurnSeconds    prometheus.Histogram   // engine turn latency (load, step, save)
	OutboxDepth    prometheus.Gauge       // messages waiting to be sent
	OutboxSent     prometheus.Counter     // messages accepted by the channel
	OutboxRetries  prometheus.Counter     // retried sends
	OutboxFailed   prometheus.Counter     // permanently failed sends
	DuplicateSends prometheus.Counter     // sends repeated after a crash (goal: 0)
	Statuses       *prometheus.CounterVec // status: sent, delivered, read, failed, unknown
	WindowClosed   prometheus.Counter     // failed deliveries that said the customer's window closed
	// Errors the channel reported in webhooks: where (status, value) and
	// the channel's numeric error code.
	ChannelErrors *prometheus.CounterVec
	Expired       prometheus.Counter     // field records removed by the sweeper
	Erased        prometheus.Counter     // subjects erased
	AdminRequests *prometheus.CounterVec // result
	// Webhook messages dropped before any turn (see docs/whatsapp.md).
	Stale         *prometheus.CounterVec // reason: old, future
	Misrouted     *prometheus.CounterVec // reason: missing, foreign (phone_number_id)
	NumberChanges *prometheus.CounterVec // outcome: moved, nothing_held, refused_new_has_data
	Notices       *prometheus.CounterVec // event (erase, stop), result (delivered, retry, given_up)
	Reminders     prometheus.Counter     // reminders queued for sending
	// Work of another process (or of this one before a restart) claimed
	// after its lease expired, by queue (inbox, outbox): shared stores only.
	Takeovers *prometheus.CounterVec
	// Hand-offs to a person: begun, by channel and reason (keyword, step,
	// integration); ended, by how (returned, closed, timeout, ended); and
	// the team's replies, by channel.
	Handoffs     *prometheus.CounterVec
	HandoffEnds  *prometheus.CounterVec
	StaffReplies *prometheus.CounterVec
}

// NewMetrics registers every metric on a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_webhooks_total", Help: "Webhook deliveries by result."}, []string{"result"}),
		Turns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_turns_total", Help: "Conversation turns processed, by channel."}, []string{"channel"}),
		TurnSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_turn_seconds", Help: "Time to process one turn (load, step, save).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}}),
		OutboxDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_outbox_depth", Help: "Messages waiting in the outbox."}),
		OutboxSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_outbox_sent_total", Help: "Messages accepted by the channel."}),
		OutboxRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_outbox_retries_total", Help: "Send attempts that were retried."}),
		OutboxFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_outbox_failed_total", Help: "Messages that failed permanently."}),
		DuplicateSends: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_outbox_duplicate_sends_total", Help: "Messages sent again that may already have been delivered: recovered after a restart with their send started, or retried after an uncertain failure."}),
		Statuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_status_callbacks_total", Help: "Delivery status callbacks by status."}, []string{"status"}),
		WindowClosed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_window_closed_total", Help: "Failed deliveries that reported the customer-service window closed (131047)."}),
		ChannelErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_channel_errors_total", Help: "Errors the channel reported in webhooks, by where (status, value) and code."}, []string{"where", "code"}),
		Expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_expired_records_total", Help: "Expired field records deleted by the sweeper."}),
		Erased: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_erased_subjects_total", Help: "Subjects erased on request."}),
		AdminRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_admin_requests_total", Help: "Admin API requests by result."}, []string{"result"}),
		Stale: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_webhook_stale_total", Help: "Webhook messages dropped for a timestamp too old or too far in the future."}, []string{"reason"}),
		Misrouted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_webhook_misrouted_total", Help: "Webhook messages dropped for a missing or foreign phone_number_id."}, []string{"reason"}),
		NumberChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_number_changes_total", Help: "user_changed_number notices handled, by outcome."}, []string{"outcome"}),
		Notices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_recipient_notices_total", Help: "Erasure and stop notices to integrations, by event and delivery result."}, []string{"event", "result"}),
		Reminders: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_reminders_queued_total", Help: "Reminders scheduled by flows and queued for sending when due."}),
		Takeovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_claims_taken_over_total", Help: "Inbound messages and replies claimed again after an earlier claim's lease expired (a process died or stalled), by queue."}, []string{"queue"}),
		Handoffs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_handoffs_total", Help: "Conversations handed off to a person, by channel and reason (keyword, step, integration)."}, []string{"channel", "reason"}),
		HandoffEnds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_handoff_ends_total", Help: "Hand-offs ended, by how: returned to the bot, closed, timeout, ended."}, []string{"how"}),
		StaffReplies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_staff_replies_total", Help: "Replies written by the team in the console, by channel."}, []string{"channel"}),
	}
	m.Registry.MustRegister(m.Stale, m.Misrouted, m.NumberChanges, m.WindowClosed, m.ChannelErrors, m.Reminders)
	m.Registry.MustRegister(m.Handoffs, m.HandoffEnds, m.StaffReplies)
	m.Registry.MustRegister(m.Webhooks, m.Turns, m.TurnSeconds, m.OutboxDepth, m.OutboxSent, m.OutboxRetries,
		m.OutboxFailed, m.DuplicateSends, m.Statuses, m.Takeovers, m.Expired, m.Erased, m.AdminRequests, m.Notices,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
