package vault

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
)

// BenchmarkPseudonyms measures the keyed hashes a turn computes several
// times over: the subject id of the sender, the inbox dedupe hash of the
// message id and the outbox key of a sent message.
func BenchmarkPseudonyms(b *testing.B) {
	v := openMem(b, newClock())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprint(i)
		_ = v.SubjectID("whatsapp", id)
		_ = v.inboxHash(id)
		_ = v.keyOW(id)
	}
}

// TestPooledMACKeepsPseudonyms checks that the pooled keyed hashes give the
// same subject ids, dedupe hashes and outbox keys as a fresh HMAC-SHA256,
// so data directories written before the pool keep finding their records,
// also when one pooled state is reused for messages of different lengths.
func TestPooledMACKeepsPseudonyms(t *testing.T) {
	v := openMem(t, newClock())
	for _, id := range []string{"+447700900123", "", "a-much-longer-user-identifier-" + string(make([]byte, 300)), "447700900123"} {
		if got, want := string(v.SubjectID("whatsapp", id)), hex.EncodeToString(hmacSum(v.subjectKey, "whatsapp", ":", id)); got != want {
			t.Errorf("SubjectID(%q) = %s, want %s", id, got, want)
		}
		if got, want := v.inboxHash(id), hex.EncodeToString(hmacSum(v.dedupeKey, id)[:20]); got != want {
			t.Errorf("inboxHash(%q) = %s, want %s", id, got, want)
		}
		if got, want := string(v.keyOW(id)), "ow/"+hex.EncodeToString(hmacSum(v.dedupeKey, "outbox:", id)[:20]); got != want {
			t.Errorf("keyOW(%q) = %s, want %s", id, got, want)
		}
	}
	// hmacSum is the reference: it must be plain HMAC-SHA256.
	m := hmac.New(sha256.New, v.subjectKey)
	m.Write([]byte("whatsapp:+447700900123"))
	if got, want := string(v.SubjectID("whatsapp", "+447700900123")), hex.EncodeToString(m.Sum(nil)); got != want {
		t.Errorf("SubjectID is not HMAC-SHA256(subject key, channel:user): %s != %s", got, want)
	}
}

// TestSubjectCipherCache: a subject's cipher is built once and reused while
// its key record in storage is unchanged; erasure evicts it and the erased
// subject stays unreadable; a new key after erasure gets a new entry; a
// subject whose key record is altered in storage is refused, not served from
// the cache; and the cache never holds more than maxSubjectCiphers.
func TestSubjectCipherCache(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	s := v.SubjectID("whatsapp", canaries[2])
	if err := v.Commit(s, bookingChange(c)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if st, _, err := v.LoadSubject(s, c.Now()); err != nil || st == nil {
			t.Fatalf("LoadSubject = %q, %v", st, err)
		}
	}
	if n := v.ciphers.len(); n != 1 {
		t.Fatalf("%d cached ciphers after three loads of one subject, want 1", n)
	}
	if _, err := v.Erase(s, c.Now()); err != nil {
		t.Fatal(err)
	}
	if n := v.ciphers.len(); n != 0 {
		t.Errorf("%d cached ciphers after the erasure, want 0", n)
	}
	if st, fs, err := v.LoadSubject(s, c.Now()); err != nil || st != nil || len(fs) != 0 {
		t.Errorf("LoadSubject after Erase = %q, %v, %v; want nothing", st, fs, err)
	}
	if err := v.Purge(); err != nil {
		t.Fatal(err)
	}
	if err := v.Commit(s, Change{State: []byte("again")}); err != nil {
		t.Fatal(err)
	}
	if st, _, err := v.LoadSubject(s, c.Now()); err != nil || string(st) != "again" {
		t.Fatalf("LoadSubject after a new start = %q, %v", st, err)
	}

	// Alter the stored key record (flip a bit of the wrapped key): the
	// cached cipher must not be used for it.
	other := v.SubjectID("whatsapp", canaries[3])
	if err := v.Commit(other, Change{State: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.LoadSubject(other, c.Now()); err != nil {
		t.Fatal(err)
	}
	err := v.update(func(txn kvTxn) error {
		item, err := txn.Get(keyK(other))
		if err != nil {
			return err
		}
		var rec []byte
		if err := item.Value(func(b []byte) error { rec = append([]byte(nil), b...); return nil }); err != nil {
			return err
		}
		rec[len(rec)-1] ^= 1
		return txn.Set(keyK(other), rec)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.LoadSubject(other, c.Now()); err == nil {
		t.Error("a subject whose stored key was altered loaded without error (served from the cache)")
	}

	var cache subjectCiphers
	a := v.kek
	for i := range maxSubjectCiphers + 10 {
		cache.put(fmt.Sprint(i), a)
	}
	if n := cache.len(); n != maxSubjectCiphers {
		t.Errorf("cache holds %d ciphers, want at most %d", n, maxSubjectCiphers)
	}
}
