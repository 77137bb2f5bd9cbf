package vault

import (
	"bytes"
	"context"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// Backup format. Badger's own backup stream is plaintext (decrypted keys and
// values, wrapped DEKs included), so it never leaves the process unsealed:
//
//	header: "PARLEYVB" | version 1 | salt (32)
//	frame*: flag (1: 0 = more, 1 = final) | length (4, big endian) | AES-256-GCM ciphertext
//
// The key is HKDF(master key, salt, labelBackup); frame i uses the nonce
// 0000 | i (big endian), and its additional data is header | flag. A
// reordered or dropped frame fails authentication; a stream that ends before
// a final frame, or continues after it, is rejected (truncation).
const (
	backupMagic   = "PARLEYVB"
	backupVersion = 1
	backupHdrLen  = len(backupMagic) + 1 + 32
	backupChunk   = 64 << 10
	maxFrame      = backupChunk + tagSize
)

type backupWriter struct {
	w      io.Writer
	aead   cipher.AEAD
	hdr    []byte
	n      uint64
	buf    []byte
	out    []byte
	closed bool
}

func newBackupWriter(w io.Writer, master []byte) (*backupWriter, error) {
	salt, err := randomBytes(32)
	if err != nil {
		return nil, err
	}
	hdr := append(append([]byte(backupMagic), backupVersion), salt...)
	key, err := derive(master, salt, labelBackup)
	if err != nil {
		return nil, err
	}
	a, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(hdr); err != nil {
		return nil, err
	}
	return &backupWriter{w: w, aead: a, hdr: hdr, buf: make([]byte, 0, backupChunk)}, nil
}

func (b *backupWriter) nonce() []byte {
	n := make([]byte, nonceSize)
	binary.BigEndian.PutUint64(n[4:], b.n)
	return n
}

func (b *backupWriter) frame(final bool) error {
	flag := byte(0)
	if final {
		flag = 1
	}
	b.out = append(b.out[:0], flag, 0, 0, 0, 0)
	b.out = b.aead.Seal(b.out, b.nonce(), b.buf, append(bytes.Clone(b.hdr), flag))
	binary.BigEndian.PutUint32(b.out[1:5], uint32(len(b.out)-5))
	b.n++
	b.buf = b.buf[:0]
	_, err := b.w.Write(b.out)
	return err
}

func (b *backupWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(b.buf) == backupChunk {
			// Only now do we know this chunk is not the last.
			if err := b.frame(false); err != nil {
				return 0, err
			}
		}
		c := min(backupChunk-len(b.buf), len(p))
		b.buf = append(b.buf, p[:c]...)
		p = p[c:]
	}
	return n, nil
}

func (b *backupWriter) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	return b.frame(true)
}

type backupReader struct {
	r    io.Reader
	aead cipher.AEAD
	hdr  []byte
	n    uint64
	buf  []byte
	done bool
	fbuf []byte
}

func newBackupReader(r io.Reader, master []byte) (*backupReader, error) {
	hdr := make([]byte, backupHdrLen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("%w: short header", ErrBadBackup)
	}
	if string(hdr[:len(backupMagic)]) != backupMagic || hdr[len(backupMagic)] != backupVersion {
		return nil, fmt.Errorf("%w: not a Parley vault backup", ErrBadBackup)
	}
	key, err := derive(master, hdr[len(backupMagic)+1:], labelBackup)
	if err != nil {
		return nil, err
	}
	a, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return &backupReader{r: r, aead: a, hdr: hdr}, nil
}

func (b *backupReader) Read(p []byte) (int, error) {
	for len(b.buf) == 0 {
		if b.done {
			return 0, io.EOF
		}
		if err := b.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	return n, nil
}

func (b *backupReader) next() error {
	var fh [5]byte
	if _, err := io.ReadFull(b.r, fh[:]); err != nil {
		return fmt.Errorf("%w: truncated", ErrBadBackup)
	}
	flag, size := fh[0], binary.BigEndian.Uint32(fh[1:])
	if flag > 1 || size > maxFrame || size < tagSize {
		return fmt.Errorf("%w: bad frame", ErrBadBackup)
	}
	b.fbuf = append(b.fbuf[:0], make([]byte, size)...)
	if _, err := io.ReadFull(b.r, b.fbuf); err != nil {
		return fmt.Errorf("%w: truncated", ErrBadBackup)
	}
	nonce := make([]byte, nonceSize)
	binary.BigEndian.PutUint64(nonce[4:], b.n)
	pt, err := b.aead.Open(nil, nonce, b.fbuf, append(bytes.Clone(b.hdr), flag))
	if err != nil {
		return fmt.Errorf("%w: frame %d failed authentication", ErrBadBackup, b.n)
	}
	b.n++
	b.buf = pt
	if flag == 1 {
		b.done = true
		var extra [1]byte
		if n, _ := b.r.Read(extra[:]); n > 0 {
			return fmt.Errorf("%w: data after the final frame", ErrBadBackup)
		}
	}
	return nil
}

// Backup writes an encrypted, authenticated backup of the main database to
// w. It carries the erasure ledger (e/ entries) too, so a restore into an
// empty directory knows the erasures up to the backup. The inbox DB is not
// in the backup: pending inbound messages (received, not yet processed) are
// not backed up, and Meta redelivers only unacknowledged ones (see the
// package documentation).
//
// Before copying, Backup appends a mark with a random id to erasures.log
// and records the same id, its time and the audit head file's content in
// the backup (key m/backup): Restore uses the mark to tell whether the
// ledger present is at least as new as the backup.
func (v *Vault) Backup(w io.Writer) error {
	if !v.embedded() {
		return errors.New("vault: backup: this vault is on a shared store; back it up with the store's own tools (pg_dump --exclude-table parley_ledger, and the table parley_ledger apart), see docs/storage.md")
	}
	bw, err := newBackupWriter(w, v.backupRoot)
	if err != nil {
		return fmt.Errorf("vault: backup: %w", err)
	}
	if err := v.recordBackup(); err != nil {
		return fmt.Errorf("vault: backup: %w", err)
	}
	// Badger copies every version of a live key, and a deleted field is a
	// live dead record until the sweep drops it: without this, a backup
	// taken after a forget:, STOP or expiry but before the next sweep would
	// carry the old answer, readable with the master key, for as long as
	// the backup is kept.
	if err := v.sweepFields(v.now(), &SweepStats{}); err != nil {
		return fmt.Errorf("vault: backup: %w", err)
	}
	if err := v.bdb.BackupLatest(context.Background(), bw); err != nil {
		return fmt.Errorf("vault: backup: %w", err)
	}
	if err := bw.Close(); err != nil {
		return fmt.Errorf("vault: backup: %w", err)
	}
	return nil
}

// backupMeta is the m/backup value: what a backup knows about itself.
type backupMeta struct {
	ID    string        `json:"id"` // the mark appended to erasures.log
	At    time.Time     `json:"at"` // vault clock
	Audit auditHeadFile `json:"audit"`
}

var keyBackupMeta = []byte("m/backup")

// recordBackup writes the ledger mark, then m/backup.
func (v *Vault) recordBackup() error {
	id, err := randomBytes(16)
	if err != nil {
		return err
	}
	m := backupMeta{ID: hex.EncodeToString(id), At: v.historyNow().UTC()}
	if err := v.ledger.mark(m.ID, m.At); err != nil {
		return err
	}
	v.auditMu.Lock()
	defer v.auditMu.Unlock()
	err = v.update(func(txn kvTxn) error {
		var head auditHead
		if err := getJSON(txn, keyAuditHead, &head); err != nil {
			return err
		}
		if err := getJSON(txn, keyAuditAnchor, &m.Audit.Anchor); err != nil {
			return err
		}
		m.Audit.Head = auditMark{Seq: head.Seq, Hash: head.Hash}
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return txn.Set(keyBackupMeta, b)
	})
	if err != nil {
		return err
	}
	return v.durable()
}

// Errors Restore gives when it refuses a backup; RestoreWithoutLedger
// restores anyway.
var (
	// ErrLedgerBehind: the erasure ledger beside the data directory is
	// missing or older than the backup (it lacks the backup's mark), so it
	// may not know erasures made after the backup was taken.
	ErrLedgerBehind = errors.New("vault: the erasure ledger is missing or older than the backup")
	// ErrBackupTooOld: the backup was taken longer ago than
	// Options.LedgerRetention; the ledger no longer lists every erasure
	// made since.
	ErrBackupTooOld = errors.New("vault: the backup is older than the erasure ledger retention")
)

// Restore loads a backup made by Backup into opts.Dir, whose database
// directory must be empty or absent. The erasure ledger file beside it
// (opts.ErasureLog, default Dir/erasures.log) is kept: keep it across a
// restore, it is what stops an older backup from bringing erased subjects
// back. After loading, the ledger from the file and from the backup is
// re-applied (keys destroyed, prefixes purged) before Restore returns.
// An existing inbox DB (Dir/inbox) is kept as it is and opened with the
// restored data; Restore creates an empty one otherwise.
//
// Restore refuses (and leaves no database behind) unless the ledger file
// holds the backup's mark, which proves it was kept since the backup was
// taken (ErrLedgerBehind), and the backup is younger than
// opts.LedgerRetention by the vault clock (ErrBackupTooOld). A restore
// appends a "restore" audit entry naming the backup and the audit head it
// replaces, and rewrites the audit head file to the restored chain: this is
// the one way to roll the audit log back that AuditVerify accepts.
func Restore(opts Options, r io.Reader) error { return restore(opts, r, false) }

// RestoreWithoutLedger is Restore without the erasure ledger checks, for a
// backup whose ledger is lost or too old: subjects erased after the backup
// was taken may come back. The audit entry says so.
func RestoreWithoutLedger(opts Options, r io.Reader) error { return restore(opts, r, true) }

func restore(opts Options, r io.Reader, withoutLedger bool) (err error) {
	if err := opts.check(); err != nil {
		return err
	}
	if opts.InMemory {
		return errors.New("vault: restore needs a directory")
	}
	opts = opts.withDefaults()
	dbDir := filepath.Join(opts.Dir, dbSubdir)
	if ents, err := os.ReadDir(dbDir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%w: %s", ErrNotEmpty, dbDir)
	}
	br, err := newBackupReader(r, opts.MasterKey)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return fmt.Errorf("vault: restore: %w", err)
	}
	lock, err := lockDir(filepath.Join(opts.Dir, lockName))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dbDir) // never leave a half-restored store behind
		}
	}()
	db, err := opts.badgerStore(dbSubdir, labelBadger, false, false)
	if err != nil {
		unlockDir(lock)
		return fmt.Errorf("vault: restore: %w", err)
	}
	loadErr := db.Load(context.Background(), br)
	var meta backupMeta
	hasMeta := false
	if loadErr == nil {
		loadErr = db.View(context.Background(), func(r store.Reader) error {
			txn := kvTx{r: r}
			_, err := txn.Get(keyBackupMeta)
			hasMeta = err == nil
			return getJSON(txn, keyBackupMeta, &meta)
		})
	}
	closeErr := db.Close()
	if loadErr == nil && closeErr == nil && !withoutLedger {
		loadErr = checkLedgerFor(opts, meta, hasMeta)
	}
	unlockDir(lock)
	if loadErr != nil {
		if errors.Is(loadErr, ErrBadBackup) || errors.Is(loadErr, ErrLedgerBehind) || errors.Is(loadErr, ErrBackupTooOld) {
			return loadErr
		}
		return fmt.Errorf("vault: restore: %w", loadErr)
	}
	if closeErr != nil {
		return fmt.Errorf("vault: restore: %w", closeErr)
	}
	replaced, hadHead, err := readAuditHeadFile(filepath.Join(filepath.Dir(opts.ErasureLog), auditHeadName))
	if err != nil && !errors.Is(err, ErrAuditTampered) {
		return err
	}
	// Open checks the key against the restored data and re-applies the
	// ledger, purging what the ledger says was erased.
	opts.PurgeDelay = -1
	v, err := Open(opts)
	if err != nil {
		return err
	}
	detail := map[string]string{"backup_id": meta.ID, "backup_audit_seq": strconv.FormatUint(meta.Audit.Head.Seq, 10)}
	if hasMeta {
		detail["backup_at"] = meta.At.UTC().Format(time.RFC3339)
	}
	if hadHead {
		detail["replaced_seq"] = strconv.FormatUint(replaced.Head.Seq, 10)
		detail["replaced_hash"] = replaced.Head.Hash
	}
	if withoutLedger {
		detail["without_ledger"] = "true"
	}
	v.auditMu.Lock()
	v.auditFileChecked = true
	err = v.appendAudit("parley", "restore", "", detail, true)
	v.auditMu.Unlock()
	return errors.Join(err, v.Close())
}

// checkLedgerFor refuses a restore whose erasure ledger may not know every
// erasure made since the backup was taken.
func checkLedgerFor(opts Options, m backupMeta, hasMeta bool) error {
	if !hasMeta {
		return fmt.Errorf("%w: the backup does not record which erasure ledger belongs with it (it was made by an older Parley)", ErrLedgerBehind)
	}
	if age := opts.Now().Sub(m.At); age > opts.LedgerRetention {
		return fmt.Errorf("%w: the backup was taken %s, more than %s ago", ErrBackupTooOld, m.At.UTC().Format(time.RFC3339), opts.LedgerRetention)
	}
	if _, err := os.Stat(opts.ErasureLog); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: there is no %s", ErrLedgerBehind, opts.ErasureLog)
	}
	l, err := openLedger(opts.ErasureLog)
	if err != nil {
		return err
	}
	defer l.close()
	if !l.hasMark(m.ID) {
		return fmt.Errorf("%w: %s has no record of this backup (taken %s), so it is older than the backup or belongs to another vault",
			ErrLedgerBehind, opts.ErasureLog, m.At.UTC().Format(time.RFC3339))
	}
	return nil
}
