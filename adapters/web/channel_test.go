package web_test

import (
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/web"
	"github.com/parleyhq/parley/engine/runtime"
)

func TestChannelRendersThePageFormatAndNeverPushes(t *testing.T) {
	var ch web.Channel
	out := ch.Render("", "en", runtime.Message{Kind: runtime.KindAsk, Text: "Pick a day",
		Options: []runtime.Option{{ID: "1", Title: "Monday"}}})
	if len(out) != 1 {
		t.Fatalf("Render = %d requests, want 1", len(out))
	}
	want := `{"kind":"ask","text":"Pick a day","options":[{"id":"1","title":"Monday"}]}`
	if got := string(out[0].Req); got != want {
		t.Errorf("Render = %s, want %s", got, want)
	}
	if _, err := ch.Send(t.Context(), out[0]); !errors.Is(err, web.ErrNoPush) {
		t.Errorf("Send error = %v, want ErrNoPush", err)
	}
	if f := ch.Classify(out[0], web.ErrNoPush, 1, time.Time{}); f.Retry {
		t.Errorf("Classify = %+v, want no retry", f)
	}
}
