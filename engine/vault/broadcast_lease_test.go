package vault

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
)

// TestBroadcastRunsOnceAtATime: while one run holds a template's broadcast,
// a second start in the same process is refused (and says until when); once
// the first releases it (stopped early) the second resumes the same
// broadcast, and the first, still holding its old run, can record nothing
// more and cannot finish it.
func TestBroadcastRunsOnceAtATime(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	s := v.SubjectID("whatsapp", "15550008001")
	a, resumed, err := v.BroadcastStart("news", "monthly_issue", c.Now())
	if err != nil || resumed {
		t.Fatalf("first start = %+v, %v, %v", a, resumed, err)
	}
	_, _, err = v.BroadcastStart("news", "monthly_issue", c.Now())
	var busy *BroadcastBusy
	if !errors.Is(err, ErrBroadcastRunning) || !errors.As(err, &busy) || !busy.Until.Equal(c.Now().Add(BroadcastLease)) {
		t.Fatalf("second start while the first runs = %v, want ErrBroadcastRunning until the lease passes", err)
	}
	// Another template's broadcast is not held.
	if _, _, err := v.BroadcastStart("news", "other_issue", c.Now()); err != nil {
		t.Fatalf("another template's start = %v", err)
	}
	if err := v.BroadcastMark(a, s, BroadcastSending, c.Now()); err != nil {
		t.Fatal(err)
	}
	if err := v.BroadcastRelease(a, c.Now()); err != nil {
		t.Fatal(err)
	}
	b, resumed, err := v.BroadcastStart("news", "monthly_issue", c.Now())
	if err != nil || !resumed || b.ID != a.ID {
		t.Fatalf("start after the release = %+v, resumed %v, %v; want the same broadcast resumed", b, resumed, err)
	}
	if err := v.BroadcastMark(a, s, BroadcastSent, c.Now()); !errors.Is(err, ErrBroadcastTaken) {
		t.Errorf("the released run's mark = %v, want ErrBroadcastTaken", err)
	}
	if err := v.BroadcastFinish(a, c.Now()); !errors.Is(err, ErrBroadcastTaken) {
		t.Errorf("the released run's finish = %v, want ErrBroadcastTaken", err)
	}
	marks, err := v.BroadcastMarks(b)
	if err != nil || marks[s] != BroadcastSending {
		t.Errorf("marks = %v, %v; want the first run's sending mark kept", marks, err)
	}
	if err := v.BroadcastFinish(b, c.Now()); err != nil {
		t.Fatal(err)
	}
	if n, resumed, err := v.BroadcastStart("news", "monthly_issue", c.Now()); err != nil || resumed || n.ID == a.ID {
		t.Errorf("start after the finish = %+v, resumed %v, %v; want a new broadcast", n, resumed, err)
	}
}

// TestBroadcastLeftByADeadProcessResumesAtOnceOnADirectory: a run that
// held a broadcast when its process died (the vault closed without a
// release) is resumed at once by the next process on the data directory,
// which one process opens at a time.
func TestBroadcastLeftByADeadProcessResumesAtOnceOnADirectory(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	a, _, err := v.BroadcastStart("news", "monthly_issue", c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	w := openDisk(t, dir, c)
	b, resumed, err := w.BroadcastStart("news", "monthly_issue", c.Now())
	if err != nil || !resumed || b.ID != a.ID {
		t.Fatalf("start in the next process = %+v, resumed %v, %v; want the broadcast resumed at once", b, resumed, err)
	}
}

// TestPostgresBroadcastOneRunAcrossInstances: two instances on one
// PostgreSQL start the same broadcast at the same moment, twenty times:
// exactly one start wins each time. The loser can take over only once the
// winner's lease has passed without progress (its process died), and the
// winner, if it was only slow, then records nothing more.
func TestPostgresBroadcastOneRunAcrossInstances(t *testing.T) {
	c := newClock()
	url := pgtest.URL(t)
	a, _ := openPG(t, url, c)
	b, _ := openPG(t, url, c)
	s := a.SubjectID("whatsapp", "15550008002")
	for i := range 20 {
		var wg sync.WaitGroup
		runs := make([]BroadcastRun, 2)
		errs := make([]error, 2)
		for j, v := range []*Vault{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runs[j], _, errs[j] = v.BroadcastStart("news", "monthly_issue", c.Now())
			}()
		}
		wg.Wait()
		won := -1
		for j, err := range errs {
			switch {
			case err == nil && won < 0:
				won = j
			case err == nil:
				t.Fatalf("round %d: both instances started the broadcast", i)
			case !errors.Is(err, ErrBroadcastRunning):
				t.Fatalf("round %d: instance %d: %v", i, j, err)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: neither instance started: %v", i, errs)
		}
		winner, loser := []*Vault{a, b}[won], []*Vault{a, b}[1-won]
		if err := winner.BroadcastMark(runs[won], s, BroadcastSending, c.Now()); err != nil {
			t.Fatal(err)
		}
		c.Add(BroadcastLease - time.Second)
		if _, _, err := loser.BroadcastStart("news", "monthly_issue", c.Now()); !errors.Is(err, ErrBroadcastRunning) {
			t.Fatalf("round %d: the other instance's start before the renewed lease passed = %v", i, err)
		}
		c.Add(2 * time.Second)
		took, resumed, err := loser.BroadcastStart("news", "monthly_issue", c.Now())
		if err != nil || !resumed || took.ID != runs[won].ID {
			t.Fatalf("round %d: take-over after the lease = %+v, %v, %v", i, took, resumed, err)
		}
		if err := winner.BroadcastMark(runs[won], s, BroadcastSent, c.Now()); !errors.Is(err, ErrBroadcastTaken) {
			t.Fatalf("round %d: the overtaken run's mark = %v, want ErrBroadcastTaken", i, err)
		}
		if err := loser.BroadcastFinish(took, c.Now()); err != nil {
			t.Fatal(err)
		}
	}
}
