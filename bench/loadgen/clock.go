package main

import (
	"context"
	"time"
)

// clock is the time source of the open loop's schedule and of the chaos
// driver's waits between re-deliveries. Tests inject a fake one, so they
// can check what was measured and how long was waited without waiting.
type clock interface {
	Now() time.Time
	// Sleep returns after d (at once when d <= 0) or when ctx ends,
	// with ctx's error.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
