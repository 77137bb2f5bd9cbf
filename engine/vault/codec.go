package vault

import (
	"encoding/binary"
	"errors"
	"time"
)

// A tiny length-prefixed binary codec for sealed records: records are small,
// written on every turn, and must not depend on map order or reflection.

var errShort = errors.New("record truncated")

type enc struct{ b []byte }

// sizedEnc starts an encoder with room for n bytes of variable-length
// content plus the varints and fixed fields of a record (encRoom), so
// encoding a record allocates once instead of growing 8, 16, 32, … bytes.
func sizedEnc(n int) enc { return enc{b: make([]byte, 0, n+encRoom)} }

// encRoom covers the length prefixes, times and counters of the largest
// record (the outbox entry: 7 fields).
const encRoom = 80

func (e *enc) bytes(p []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(p)))
	e.b = append(e.b, p...)
}
func (e *enc) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *enc) int(i int64)   { e.b = binary.AppendVarint(e.b, i) }
func (e *enc) uint(u uint64) { e.b = binary.AppendUvarint(e.b, u) }
func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.int(0)
		return
	}
	e.int(t.UnixNano())
}
func (e *enc) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) uint() uint64 {
	if d.err != nil {
		return 0
	}
	u, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return u
}
func (d *dec) int() int64 {
	if d.err != nil {
		return 0
	}
	i, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return i
}
func (d *dec) bytes() []byte {
	n := d.uint()
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.err = errShort
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}
func (d *dec) str() string { return string(d.bytes()) }
func (d *dec) time() time.Time {
	i := d.int()
	if i == 0 {
		return time.Time{}
	}
	return time.Unix(0, i).UTC()
}
func (d *dec) bool() bool {
	if d.err != nil {
		return false
	}
	if len(d.b) < 1 {
		d.err = errShort
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}
