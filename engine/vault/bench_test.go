package vault

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
)

// populate writes n subjects (key, state, two fields, one consent), sealed
// exactly as Commit seals them, in batched transactions.
func populate(b *testing.B, v *Vault, n int, now time.Time) []SubjectID {
	b.Helper()
	var recs []store.Record
	subjects := make([]SubjectID, n)
	for i := range n {
		s := v.SubjectID("whatsapp", fmt.Sprintf("+4477009%05d", i))
		subjects[i] = s
		dek, _ := randomBytes(dekSize)
		id, _ := randomBytes(16)
		hdr := make([]byte, keyHdrLen)
		hdr[0], hdr[1] = 1, keyLive
		copy(hdr[2:], id)
		binary.BigEndian.PutUint64(hdr[18:], uint64(now.UnixNano()))
		kv, _ := seal(v.kek, hdr, dek, append(keyK(s), hdr...))
		a, _ := newGCM(dek)
		set := func(k []byte, h valHdr, pt []byte) {
			val, err := sealValue(a, k, h, pt)
			if err != nil {
				b.Fatal(err)
			}
			recs = append(recs, store.Record{Key: k, Value: val})
		}
		recs = append(recs, store.Record{Key: keyK(s), Value: kv})
		set(keyS(s), valHdr{}, []byte("flow=dental;v=3;step=ask_email;lang=en;attempts=0"))
		for _, f := range []FieldRecord{
			{Name: "name", Value: []byte("Ada Lovelace"), Purpose: "booking", Basis: "contract", CollectedAt: now, ExpiresAt: now.Add(90 * day), Flow: "dental", FlowVersion: 3},
			{Name: "email", Value: []byte("ada@example.test"), Purpose: "booking", Basis: "contract", CollectedAt: now, ExpiresAt: now.Add(90 * day), Flow: "dental", FlowVersion: 3},
		} {
			set(keyF(s, f.Name), valHdr{expiry: f.ExpiresAt.UnixNano()}, encodeField(&f))
		}
		cr := ConsentRecord{Purpose: "reminders", Granted: true, At: now, Flow: "dental", FlowVersion: 3, NoticeHash: "9f2c", MessageID: "wamid.X", Seq: uint64(i + 1)}
		set(keyC(s, cr.Purpose, cr.Seq), valHdr{}, encodeConsent(&cr))
	}
	if err := v.batchOn(v.st, recs, nil); err != nil {
		b.Fatal(err)
	}
	return subjects
}

func benchVault(b *testing.B, n int) (*Vault, []SubjectID, *clock) {
	return benchVaultSync(b, n, SyncCritical)
}

func benchVaultSync(b *testing.B, n int, p SyncPolicy) (*Vault, []SubjectID, *clock) {
	b.Helper()
	c := newClock()
	o := diskOpts(b.TempDir(), c)
	o.Sync = p
	v, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { v.Close() })
	var subjects []SubjectID
	if n > 0 {
		subjects = populate(b, v, n, c.Now())
	}
	return v, subjects, c
}

func turnChange(c *clock, i int) Change {
	now := c.Now()
	return Change{
		State: fmt.Appendf(nil, "flow=dental;v=3;step=s%d;lang=en;attempts=0", i%7),
		Put:   []FieldRecord{{Name: "slot", Value: []byte("mon9"), Purpose: "booking", Basis: "contract", CollectedAt: now, ExpiresAt: now.Add(90 * day), Flow: "dental", FlowVersion: 3}},
	}
}

// BenchmarkCommit: state + one field, on disk, encrypted, from parallel
// goroutines, each on its own subjects (ordinary writes: not fsynced).
func BenchmarkCommit(b *testing.B) {
	v, _, c := benchVault(b, 0)
	benchCommit(b, v, c)
}

// BenchmarkCommitSyncAlways is BenchmarkCommit with Badger's SyncWrites=true
// (SyncAlways): the price of fsyncing every turn.
func BenchmarkCommitSyncAlways(b *testing.B) {
	v, _, c := benchVaultSync(b, 0, SyncAlways)
	benchCommit(b, v, c)
}

func benchCommit(b *testing.B, v *Vault, c *clock) {
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			if err := v.Commit(v.SubjectID("whatsapp", fmt.Sprint(i%5000)), turnChange(c, i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkTurn is one conversation turn: LoadSubject + Commit, from
// parallel goroutines over 100,000 stored subjects. turns/s is the figure to
// compare with the 10,000 turns/s goal.
func BenchmarkTurn(b *testing.B) {
	v, subjects, c := benchVault(b, 100_000)
	var next atomic.Int64
	b.ReportAllocs()
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			s := subjects[(i*7919)%len(subjects)]
			if _, _, err := v.LoadSubject(s, c.Now()); err != nil {
				b.Error(err)
				return
			}
			if err := v.Commit(s, turnChange(c, i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "turns/s")
}

// BenchmarkConsentCommit: a commit with a consent record, fsynced with group
// commit, from parallel goroutines.
func BenchmarkConsentCommit(b *testing.B) {
	v, _, c := benchVault(b, 0)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			ch := Change{Consents: []ConsentRecord{{Purpose: "reminders", Granted: true, At: c.Now(), MessageID: "wamid.X"}}}
			if err := v.Commit(v.SubjectID("whatsapp", fmt.Sprint(i%5000)), ch); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkLoadSubject(b *testing.B) {
	v, subjects, c := benchVault(b, 100_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, f, err := v.LoadSubject(subjects[(i*7919)%len(subjects)], c.Now()); err != nil || len(f) != 2 {
			b.Fatal(len(f), err)
		}
	}
}

func BenchmarkExport(b *testing.B) {
	v, subjects, c := benchVault(b, 100_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if ex, err := v.Export(subjects[(i*7919)%len(subjects)], c.Now()); err != nil || len(ex.Consents) != 1 {
			b.Fatal(err)
		}
	}
}

// BenchmarkErase measures the erasure proper (key destroyed, fsynced,
// ledger appended); the batched physical purge is timed once afterwards and
// reported as purge-ms (one DropPrefix batch for every subject erased).
func BenchmarkErase(b *testing.B) {
	v, subjects, c := benchVault(b, 100_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := v.Erase(subjects[i%len(subjects)], c.Now()); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	start := time.Now()
	if err := v.Purge(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds()), "purge-ms")
	b.ReportMetric(float64(i), "purged-subjects")
}

// BenchmarkDiskPerConversation stores 20,000 conversations through Commit
// (state, two 90-day fields, one consent), closes the vault and reports
// bytes on disk per conversation.
func BenchmarkDiskPerConversation(b *testing.B) {
	const n = 20_000
	for b.Loop() {
		c := newClock()
		dir := b.TempDir()
		v, err := Open(diskOpts(dir, c))
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			s := v.SubjectID("whatsapp", fmt.Sprintf("+4477009%05d", i))
			ch := turnChange(c, i)
			ch.Put = append(ch.Put, FieldRecord{Name: "email", Value: []byte("someone@example.test"), Purpose: "booking", CollectedAt: c.Now(), ExpiresAt: c.Now().Add(90 * day)})
			ch.Consents = []ConsentRecord{{Purpose: "reminders", Granted: true, At: c.Now(), NoticeHash: "9f2c1a", MessageID: "wamid.HBgLNDQ3NzAwOTAwMTIzFQIAEhg"}}
			if err := v.Commit(s, ch); err != nil {
				b.Fatal(err)
			}
		}
		if err := v.Close(); err != nil {
			b.Fatal(err)
		}
		var total int64
		filepath.WalkDir(filepath.Join(dir, dbSubdir), func(_ string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if info, err := d.Info(); err == nil {
					total += info.Size()
				}
			}
			return nil
		})
		b.ReportMetric(float64(total)/n, "B/conv")
	}
}

// BenchmarkInboxTurn is the WhatsApp path of one message: InboxPut (durable
// before the webhook answers), LoadSubject, CommitTurn with a reply and
// InboxDone, from 16 goroutines per core over 100,000 stored subjects. It
// reports turns/s and the p50/p99 latency of a whole turn and of the
// LoadSubject+CommitTurn part alone (what an inbox fsync must not stall).
func BenchmarkInboxTurn(b *testing.B) {
	v, subjects, c := benchVault(b, 100_000)
	benchInboxTurn(b, v, subjects, c)
}

// BenchmarkInboxTurnPostgres is BenchmarkInboxTurn on PostgreSQL (a fresh
// database of the pgtest cluster on this machine, over loopback), with
// 2,000 subjects committed first.
func BenchmarkInboxTurnPostgres(b *testing.B) {
	c := newClock()
	v, _ := openPG(b, pgtest.URL(b), c)
	subjects := make([]SubjectID, 2000)
	for i := range subjects {
		subjects[i] = v.SubjectID("bench", fmt.Sprint(i))
		if err := v.Commit(subjects[i], turnChange(c, i)); err != nil {
			b.Fatal(err)
		}
	}
	benchInboxTurn(b, v, subjects, c)
}

// benchInboxTurn runs inbox put, load and turn commit from parallel
// goroutines over subjects; see BenchmarkInboxTurn.
func benchInboxTurn(b *testing.B, v *Vault, subjects []SubjectID, c *clock) {
	var next atomic.Int64
	var mu sync.Mutex
	var whole, turn []time.Duration
	b.ReportAllocs()
	b.SetParallelism(16)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var w, t []time.Duration
		for pb.Next() {
			i := int(next.Add(1))
			s := subjects[(i*7919)%len(subjects)]
			id := fmt.Sprint("wamid.bench.", i)
			t0 := time.Now()
			if _, err := v.InboxPut(id, s, []byte(`{"text":"hello"}`), c.Now()); err != nil {
				b.Error(err)
				return
			}
			t1 := time.Now()
			if _, _, err := v.LoadSubject(s, c.Now()); err != nil {
				b.Error(err)
				return
			}
			ch := turnChange(c, i)
			ch.Outbox = [][]byte{[]byte(`{"text":"reply"}`)}
			ch.InboxDone = id
			if _, err := v.CommitTurn(s, ch); err != nil {
				b.Error(err)
				return
			}
			t2 := time.Now()
			w = append(w, t2.Sub(t0))
			t = append(t, t2.Sub(t1))
		}
		mu.Lock()
		whole, turn = append(whole, w...), append(turn, t...)
		mu.Unlock()
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "turns/s")
	pct := func(d []time.Duration, p float64) float64 {
		if len(d) == 0 {
			return 0
		}
		slices.Sort(d)
		return float64(d[int(float64(len(d)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(whole, 0.5), "p50-ms")
	b.ReportMetric(pct(whole, 0.99), "p99-ms")
	b.ReportMetric(pct(turn, 0.5), "turn-p50-ms")
	b.ReportMetric(pct(turn, 0.99), "turn-p99-ms")
}

// BenchmarkInboxTurnPaced offers 1,000 messages/s (open loop, one goroutine
// per message, as webhook deliveries arrive) and reports the latency
// percentiles of InboxPut and of the turn that follows (LoadSubject +
// CommitTurn with InboxDone), the figures the p99 ≤ 20 ms goal is about.
func BenchmarkInboxTurnPaced(b *testing.B) {
	v, subjects, c := benchVault(b, 100_000)
	var mu sync.Mutex
	var put, turn, whole []time.Duration
	var wg sync.WaitGroup
	b.ResetTimer()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := 0; i < b.N; i++ {
		<-tick.C
		wg.Go(func() {
			s := subjects[(i*7919)%len(subjects)]
			id := fmt.Sprint("wamid.paced.", i)
			t0 := time.Now()
			if _, err := v.InboxPut(id, s, []byte(`{"text":"hello"}`), c.Now()); err != nil {
				b.Error(err)
				return
			}
			t1 := time.Now()
			if _, _, err := v.LoadSubject(s, c.Now()); err != nil {
				b.Error(err)
				return
			}
			ch := turnChange(c, i)
			ch.Outbox = [][]byte{[]byte(`{"text":"reply"}`)}
			ch.InboxDone = id
			if _, err := v.CommitTurn(s, ch); err != nil {
				b.Error(err)
				return
			}
			t2 := time.Now()
			mu.Lock()
			put, turn, whole = append(put, t1.Sub(t0)), append(turn, t2.Sub(t1)), append(whole, t2.Sub(t0))
			mu.Unlock()
		})
	}
	wg.Wait()
	pct := func(d []time.Duration, p float64) float64 {
		if len(d) == 0 {
			return 0
		}
		slices.Sort(d)
		return float64(d[int(float64(len(d)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(put, 0.99), "put-p99-ms")
	b.ReportMetric(pct(turn, 0.5), "turn-p50-ms")
	b.ReportMetric(pct(turn, 0.99), "turn-p99-ms")
	b.ReportMetric(pct(whole, 0.99), "p99-ms")
}

// BenchmarkInboxAccept is the webhook's part of a turn: one new message of
// a subject that has a key (most messages), stored and fsynced in the inbox
// DB with group commit, from 16 goroutines per core over 1,000 subjects.
//
//	go test ./engine/vault -run '^$' -bench InboxAccept -benchmem
func BenchmarkInboxAccept(b *testing.B) {
	v, subjects, c := benchVault(b, 1000)
	var n atomic.Uint64
	payload := []byte("Ada Lovelace, ada@example.com")
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := v.InboxPut(fmt.Sprint("wamid.ACCEPT", i), subjects[i%uint64(len(subjects))], payload, c.Now()); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
