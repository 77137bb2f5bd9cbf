package vault

import (
	"fmt"
	"testing"
	"time"
)

// TestHandoffQueueAndNotice: a commit with a hand-off lists the subject in
// the queue (no content) and queues a notice with the flow's pseudonymous
// reference, not the subject id; HandoffDone and Erase take it out. Runs on
// every backend (backendNeutral).
func TestHandoffQueueAndNotice(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	a, b := v.SubjectID("whatsapp", "15550001111"), v.SubjectID("web", "visitor-2")
	now := c.Now()
	put := func(s SubjectID, notify string) {
		t.Helper()
		at := c.Now()
		err := v.Commit(s, Change{State: []byte("state"), Handoff: &HandoffEntry{Channel: "whatsapp", Flow: "shop", Reason: "keyword",
			Since: at, Until: at.Add(4 * time.Hour), Notify: notify}})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(a, "https://team.example/handoffs")
	c.Add(time.Minute)
	put(b, "")
	hs, err := v.Handoffs()
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0].Subject != a || hs[1].Subject != b || hs[0].Reason != "keyword" || hs[0].Flow != "shop" ||
		!hs[0].Until.Equal(now.Add(4*time.Hour)) {
		t.Fatalf("Handoffs() = %+v", hs)
	}
	ns, err := v.DueNotices(c.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].Event != NoticeHandoff || ns[0].URL != "https://team.example/handoffs" ||
		ns[0].Ref != v.RecipientRef(a, "shop", NoticeHandoff) || ns[0].Ref == string(a) {
		t.Fatalf("notices %+v, want one hand-off notice under the flow's reference", ns)
	}
	if err := v.Commit(a, Change{State: []byte("state"), HandoffDone: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Erase(b, c.Now()); err != nil {
		t.Fatal(err)
	}
	if hs, err := v.Handoffs(); err != nil || len(hs) != 0 {
		t.Errorf("after the hand-off ended and the erasure: %+v, %v", hs, err)
	}
	put(a, "")
	if err := v.DropHandoff(a); err != nil {
		t.Fatal(err)
	}
	if err := v.DropHandoff(a); err != nil {
		t.Errorf("dropping twice: %v", err)
	}
	if hs, err := v.Handoffs(); err != nil || len(hs) != 0 {
		t.Errorf("after DropHandoff: %+v, %v", hs, err)
	}
}

// BenchmarkHandoffsList1000 lists a queue of 1,000 waiting conversations,
// what the console's queue and serve's timeout round read.
func BenchmarkHandoffsList1000(b *testing.B) {
	c := newClock()
	v := openMem(b, c)
	for i := range 1000 {
		at := c.Add(time.Second)
		s := v.SubjectID("whatsapp", fmt.Sprintf("1555%07d", i))
		if err := v.Commit(s, Change{State: []byte("state"), Handoff: &HandoffEntry{Channel: "whatsapp", Flow: "shop",
			Reason: "keyword", Since: at, Until: at.Add(24 * time.Hour)}}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if hs, err := v.Handoffs(); err != nil || len(hs) != 1000 {
			b.Fatalf("%d, %v", len(hs), err)
		}
	}
}
