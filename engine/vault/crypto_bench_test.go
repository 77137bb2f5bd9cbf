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
