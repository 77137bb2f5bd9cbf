package web

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/parleyhq/parley/adapters/host"
	"github.com/parleyhq/parley/engine/runtime"
)

// ChannelName is the web chat's name in the host: subjects are derived from
// it ("web" plus the visitor's session id).
const ChannelName = "web"

// ErrNoPush is what Channel.Send answers: the web chat has no way to reach a
// visitor outside a request, its replies go back in the response.
var ErrNoPush = errors.New("web: the web chat answers in the request and cannot push a message")

// Channel is the web chat as a host channel. Its turns run synchronously
// (host.Host.Chat) and its replies are rendered by Render into the page's
// JSON; nothing of it goes through the outbox.
type Channel struct{}

var _ host.Channel = Channel{}

// Name implements host.Channel.
func (Channel) Name() string { return ChannelName }

// Render implements host.Channel: one message of POST /api/chat's answer.
func (Channel) Render(_, _ string, m runtime.Message) []host.Outbound {
	b, _ := json.Marshal(render(m))
	return []host.Outbound{{Req: b, Free: true}}
}

var _ host.Puller = Channel{}

// Pulls implements host.Puller: the page collects what the team says.
func (Channel) Pulls() bool { return true }

// Send implements host.Channel; see ErrNoPush.
func (Channel) Send(context.Context, host.Outbound) (string, error) { return "", ErrNoPush }

// Classify implements host.Channel: nothing is retried.
func (Channel) Classify(host.Outbound, error, int, time.Time) host.SendFailure {
	return host.SendFailure{}
}

// WindowOpen implements host.Channel: a visitor's page is open or it is not;
// there is no window.
func (Channel) WindowOpen(time.Time, time.Time) bool { return true }

// Reengage implements host.Channel: there is nothing to re-engage with.
func (Channel) Reengage(host.Outbound, string) (host.Outbound, bool) { return host.Outbound{}, false }

// render is one message in the page's wire format.
func render(m runtime.Message) chatMessage {
	cm := chatMessage{Kind: KindName(m.Kind), Text: m.Text, Options: make([]chatOption, 0, len(m.Options))}
	for _, o := range m.Options {
		cm.Options = append(cm.Options, chatOption{ID: o.ID, Title: o.Title})
	}
	return cm
}
