package vault

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/ecdh"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// Errors callers branch on with errors.Is. None of them carries personal data.
var (
	// ErrWrongKey: the master key does not open the existing data. The data
	// directory is left as it was; the vault never starts a new empty store.
	ErrWrongKey = errors.New("vault: master key does not match the existing data")
	// ErrLocked: another process (or another Vault in this one) has the
	// directory open.
	ErrLocked = errors.New("vault: data directory is in use by another process")
	// ErrNotFound: no such (unexpired) field, inbox or outbox entry.
	ErrNotFound = errors.New("vault: not found")
	// ErrCorrupt: a stored value failed authentication or decoding.
	ErrCorrupt = errors.New("vault: stored data failed authentication")
	// ErrNotEmpty: Restore was pointed at a database directory that holds data.
	ErrNotEmpty = errors.New("vault: restore target is not empty")
	// ErrBadBackup: a backup stream is malformed, truncated, reordered or
	// was made with another master key.
	ErrBadBackup = errors.New("vault: backup is damaged or was made with another key")
	// ErrClosed: the vault was closed.
	ErrClosed = errors.New("vault: closed")
)

// SyncPolicy says when writes are forced to stable storage.
type SyncPolicy int

const (
	// SyncCritical (the default) fsyncs, with group commit, every write whose
	// loss after a power cut would break a promise: consent records (those of
	// a turn that carries InboxDone are covered by the inbox replay instead,
	// see CommitTurn), erasures, inbox entries (in the separate inbox DB),
	// audit entries. Ordinary state and field writes ride
	// Badger's asynchronous write path (safe on a process crash) and a
	// background Sync every Options.SyncInterval.
	SyncCritical SyncPolicy = iota
	// SyncAlways runs Badger with SyncWrites=true: every commit is fsynced.
	SyncAlways
	// SyncNever never fsyncs explicitly (tests, throwaway stores).
	SyncNever
)

// Options configure Open and Restore.
type Options struct {
	// Dir is the data directory: the Badger files live in Dir/db, the inbox
	// of inbound messages in its own Badger instance in Dir/inbox, the erasure
	// ledger in Dir/erasures.log. Required unless InMemory.
	Dir string
	// InMemory keeps everything in memory (tests). Dir must be empty.
	InMemory bool
	// Store, when set, holds everything the vault stores instead of the
	// Badger files in Dir: a store shared by every instance (PostgreSQL,
	// engine/store/postgres). The caller opens and closes it, with the same
	// clock as Now. Dir, InMemory and ErasureLog must then be empty: no
	// lock, no ledger file, no audit head file, no Badger; the erasure
	// ledger and the audit head live in the store (see docs/storage.md).
	// Backup and Restore are Badger-only (back a store up with its own
	// tools, e.g. pg_dump).
	Store store.Store
	// CloseStore makes Close close Store too (a command that opened the
	// store for this vault alone).
	CloseStore bool
	// MasterKey is 32 secret bytes (see LoadMasterKey). Every key the vault
	// uses is derived from it.
	MasterKey []byte
	// Now is the engine clock; time.Now when nil.
	Now func() time.Time
	// HistoryNow dates and expires history: audit entries, erasures in the
	// ledger, backup marks. Nil: Now. A simulation that moves Now to
	// another time (parley chat --now) keeps it on the real clock, so no
	// entry is dated in the past or the future.
	HistoryNow func() time.Time
	// Logger receives Badger's warnings and errors and the vault's own
	// background failures. Nil: silent.
	Logger *slog.Logger
	// Sync is the durability policy; see SyncPolicy.
	Sync SyncPolicy
	// SyncInterval is how often SyncCritical fsyncs ordinary writes
	// (default 1s): the most a power cut can lose of them.
	SyncInterval time.Duration
	// SessionTTL bounds session fields (FieldRecord.ExpiresAt zero) of a
	// conversation that never ended (default 24h).
	SessionTTL time.Duration
	// DedupeWindow is how long an inbound message id is remembered after
	// arrival (default 7 days; Meta redelivers for days).
	DedupeWindow time.Duration
	// PurgeDelay batches the physical purge of erased subjects: it runs at
	// most this long after an erasure (default 10s). Negative: only when
	// Purge, Sweep or Close is called. The erasure itself (key destroyed,
	// data unreadable) is immediate either way.
	PurgeDelay time.Duration
	// TransientKeyPeriod is how long one transient key seals new inbox and
	// outbox payloads before it is rotated and destroyed (default 5m): a
	// processed message or a sent reply is unreadable at most this long
	// (plus one SyncInterval) after its turn committed or its send was
	// acknowledged. See transient.go and lifecycle.go.
	TransientKeyPeriod time.Duration
	// OutboxMaxAge bounds an outbox entry the channel never accepted
	// (default 24h, the WhatsApp customer-service window): older entries
	// are dropped at the next rotation.
	OutboxMaxAge time.Duration
	// ConversationRetention is how long conversation state is kept after
	// the last commit that wrote it when the commit does not say
	// (Change.StateKeep; default 30 days).
	ConversationRetention time.Duration
	// ConsentProof is how long a consent record is kept when the commit
	// does not say (ConsentRecord.KeepUntil; default 2 years).
	ConsentProof time.Duration
	// ErasureLog overrides the path of the erasure ledger file (default
	// Dir/erasures.log), e.g. to keep it on another volume than the data.
	ErasureLog string
	// AuditRetention is how long audit entries are kept (default 2 years);
	// the sweeper deletes older ones, see audit.go.
	AuditRetention time.Duration
	// LedgerRetention is how long an erasure stays in the erasure ledger
	// (e/ entries and erasures.log lines; default 2 years). Restore refuses
	// backups older than this, see ledger.go.
	LedgerRetention time.Duration

	// onSync, if set (tests), is called before every explicit fsync with
	// the database it syncs: "db" (main) or "inbox".
	onSync func(db string)
	// tick, if set (tests), drives the sync loop instead of a ticker.
	tick chan time.Time
}

const (
	defaultSyncInterval = time.Second
	defaultSessionTTL   = 24 * time.Hour
	defaultDedupe       = 7 * 24 * time.Hour
	defaultPurgeDelay   = 10 * time.Second
	defaultTransient    = 5 * time.Minute
	defaultOutboxMaxAge = 24 * time.Hour
	defaultConversation = 30 * 24 * time.Hour
	defaultConsentProof = 2 * 365 * 24 * time.Hour
	// ttlMargin is added to Badger's TTL backstop so that our own sweeper,
	// which also purges old versions physically, runs first.
	ttlMargin     = 7 * 24 * time.Hour
	dbSubdir      = "db"
	lockName      = "vault.lock"
	ledgerName    = "erasures.log"
	schemaVersion = "1"
)

// Vault is the encrypted store. All methods are safe for concurrent use.
type Vault struct {
	opts   Options
	now    func() time.Time
	log    *slog.Logger
	st     store.Store          // the main database: bdb, or Options.Store; see kv.go
	ist    store.Store          // inbound messages and their dedupe markers (bin, or st); see inbox.go
	bdb    store.Local          // the embedded main database (nil on Options.Store)
	bin    store.Local          // the embedded inbox database (nil on Options.Store)
	seqs   map[string]*seqBlock // on Options.Store: leased sequence blocks, by name
	lock   *os.File
	ledger *ledger
	tk     *transientKeys // seal inbox and outbox payloads; see transient.go

	kek        cipher.AEAD
	meta       cipher.AEAD
	backupRoot []byte
	subjectKey []byte         // HMAC key for subject ids, derived from the pepper
	dedupeKey  []byte         // HMAC key for message ids
	ciphers    subjectCiphers // AES-GCM of recently used subject keys
	subjectMAC *macKey        // subjectKey, prepared (see macKey)
	dedupeMAC  *macKey        // dedupeKey, prepared

	// dropMu: writers hold it shared, a purge exclusive, so that what a
	// purge reads and writes back is not changed meanwhile.
	dropMu sync.RWMutex

	// auditMu guards the audit chain and the two flags below: whether the
	// head file was compared with the store, and whether they disagreed.
	auditMu          sync.Mutex
	auditFileChecked bool
	auditFileBroken  bool

	// ledgerAhead counts, at Open, the erasures the ledger lists and the
	// records do not (older records put back).
	ledgerAhead int

	group      groupSync // fsyncs of the main DB
	inboxGroup groupSync // fsyncs of the inbox DB

	// inboxMu guards inboxSeqs (message id hash -> pending inbox entry, for
	// the entries this process put or listed) and toPurge (entries marked
	// processed in the main DB, deleted from the inbox DB after the next
	// main DB sync).
	sapMu     sync.Mutex // serialises syncAndPurge
	inboxMu   sync.Mutex
	inboxSeqs map[string]inboxRef
	toPurge   []inboxRef

	// keyMu guards newKeys: subjects whose data key was created since the
	// main DB's last sync began, with the keyGen of the creation.
	keyMu   sync.Mutex
	keyGen  uint64
	newKeys map[SubjectID]uint64

	purgeMu   sync.Mutex // serialises purges
	purgeKick chan struct{}

	notices noticeSignal // see notify.go

	stop     chan struct{}
	wg       sync.WaitGroup
	closeMu  sync.Mutex
	isClosed bool

	// addrKey is the public address key (HoldAddresses), or nil.
	addrKey atomic.Pointer[ecdh.PublicKey]

	bcastID instanceID // names this instance in broadcast leases; see contact.go
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = defaultSyncInterval
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = defaultSessionTTL
	}
	if o.DedupeWindow <= 0 {
		o.DedupeWindow = defaultDedupe
	}
	if o.PurgeDelay == 0 {
		o.PurgeDelay = defaultPurgeDelay
	}
	if o.AuditRetention <= 0 {
		o.AuditRetention = defaultAuditRetention
	}
	if o.LedgerRetention <= 0 {
		o.LedgerRetention = defaultLedgerRetention
	}
	if o.TransientKeyPeriod <= 0 {
		o.TransientKeyPeriod = defaultTransient
	}
	if o.OutboxMaxAge <= 0 {
		o.OutboxMaxAge = defaultOutboxMaxAge
	}
	if o.ConversationRetention <= 0 {
		o.ConversationRetention = defaultConversation
	}
	if o.ConsentProof <= 0 {
		o.ConsentProof = defaultConsentProof
	}
	if o.ErasureLog == "" && o.Dir != "" {
		o.ErasureLog = filepath.Join(o.Dir, ledgerName)
	}
	return o
}

func (o Options) check() error {
	if len(o.MasterKey) != MasterKeySize {
		return fmt.Errorf("vault: master key must be %d bytes, got %d", MasterKeySize, len(o.MasterKey))
	}
	if o.Store != nil {
		if o.InMemory || o.Dir != "" || o.ErasureLog != "" {
			return errors.New("vault: with a Store, Dir, InMemory and ErasureLog must be empty")
		}
		return nil
	}
	if o.InMemory && o.Dir != "" {
		return errors.New("vault: Dir must be empty with InMemory")
	}
	if !o.InMemory && o.Dir == "" {
		return errors.New("vault: Dir is required")
	}
	return nil
}

// LocalBackend is the engine/store backend that holds a data directory
// (Options.Dir, InMemory). The vault does not import it: it is registered
// by engine/store/badger, which cmd/parley (and every test that opens a
// vault on a directory) imports.
const LocalBackend = "badger"

// badgerStore opens one of the embedded databases (sub: dbSubdir or
// inboxSubdir) in the layout the vault has always written (store.Config.Raw),
// encrypted with the key derived under label, through the registered
// LocalBackend.
func (o Options) badgerStore(sub, label string, small, readOnly bool) (store.Local, error) {
	encKey, err := derive(o.MasterKey, nil, label)
	if err != nil {
		return nil, err
	}
	c := store.Config{EncryptionKey: encKey, InMemory: o.InMemory, SyncWrites: o.Sync == SyncAlways,
		Logger: o.Logger, Raw: true, Small: small, ReadOnly: readOnly, Now: time.Now}
	if !o.InMemory {
		c.Dir = filepath.Join(o.Dir, sub)
	}
	st, err := store.Open(context.Background(), LocalBackend, c)
	if err != nil {
		if errors.Is(err, store.ErrWrongKey) {
			return nil, ErrWrongKey
		}
		if errors.Is(err, store.ErrUnknownBackend) {
			return nil, fmt.Errorf("vault: a data directory needs the %s backend, which this program did not import (blank-import github.com/parleyhq/parley/engine/store/badger): %w", LocalBackend, err)
		}
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, ErrLocked // a non-Parley process holds Badger's own lock
		}
		return nil, fmt.Errorf("vault: open %s database: %w", sub, err)
	}
	local, ok := st.(store.Local)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("vault: the %s backend cannot hold a data directory: it does not implement store.Local", LocalBackend)
	}
	return local, nil
}

// Open opens (or creates) the vault. A master key that does not match
// existing data gives ErrWrongKey and leaves the directory untouched; a
// directory in use gives ErrLocked. Open re-applies the erasure ledger
// before it returns, so an erased subject never comes back.
func Open(opts Options) (*Vault, error) {
	v, err := openVault(opts)
	if err != nil {
		return nil, err
	}
	if err := v.applyLedger(); err != nil {
		v.Close()
		return nil, err
	}
	if err := v.queueLeftovers(); err != nil {
		v.Close()
		return nil, fmt.Errorf("vault: inbox: %w", err)
	}
	v.startBackground()
	return v, nil
}

func openVault(opts Options) (_ *Vault, err error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	v := &Vault{opts: opts, now: opts.Now, log: opts.Logger, purgeKick: make(chan struct{}, 1), stop: make(chan struct{}),
		inboxSeqs: map[string]inboxRef{}, newKeys: map[SubjectID]uint64{}}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			v.release()
		}
	}()
	if !opts.InMemory && opts.Store == nil {
		if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("vault: create %s: %w", opts.Dir, err)
		}
		if v.lock, err = lockDir(filepath.Join(opts.Dir, lockName)); err != nil {
			return nil, err
		}
	}
	if ls, ok := opts.Store.(store.Ledger); ok {
		v.ledger, err = openLedgerOn(ls)
	} else {
		v.ledger, err = openLedger(opts.ErasureLog)
	}
	if err != nil {
		return nil, err
	}
	for _, k := range []struct {
		label string
		dst   *cipher.AEAD
	}{{labelKEK, &v.kek}, {labelMeta, &v.meta}} {
		key, err := derive(opts.MasterKey, nil, k.label)
		if err != nil {
			return nil, err
		}
		if *k.dst, err = newGCM(key); err != nil {
			return nil, err
		}
	}
	v.backupRoot = opts.MasterKey
	if opts.Store != nil {
		return v, v.openOnStore(opts)
	}
	if v.bdb, err = opts.badgerStore(dbSubdir, labelBadger, false, false); err != nil {
		return nil, err
	}
	v.st = v.bdb
	if err := v.initMeta(); err != nil {
		return nil, err
	}
	if v.tk, err = openTransient(opts); err != nil {
		return nil, err
	}
	if err := v.openInbox(); err != nil {
		return nil, err
	}
	return v, nil
}

var (
	keyCheck   = []byte("m/check")
	keyPepper  = []byte("m/pepper")
	keySchema  = []byte("m/schema")
	checkPlain = []byte("parley vault key check v1")
)

// initMeta checks the master key against m/check (a second line of defence
// after Badger's own check, and the only one for in-memory stores) and loads
// or creates the pepper.
func (v *Vault) initMeta() error {
	return v.update(func(txn kvTxn) error {
		item, err := txn.Get(keyCheck)
		switch {
		case err == nil:
			ct, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			pt, err := open(v.meta, ct, keyCheck)
			if err != nil || !bytes.Equal(pt, checkPlain) {
				return ErrWrongKey
			}
		case errors.Is(err, store.ErrNotFound):
			ct, err := seal(v.meta, nil, checkPlain, keyCheck)
			if err != nil {
				return err
			}
			if err := txn.Set(keyCheck, ct); err != nil {
				return err
			}
			if err := txn.Set(keySchema, []byte(schemaVersion)); err != nil {
				return err
			}
		default:
			return err
		}
		var pepper []byte
		item, err = txn.Get(keyPepper)
		switch {
		case err == nil:
			ct, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if pepper, err = open(v.meta, ct, keyPepper); err != nil {
				return ErrWrongKey
			}
		case errors.Is(err, store.ErrNotFound):
			if pepper, err = randomBytes(32); err != nil {
				return err
			}
			ct, err := seal(v.meta, nil, pepper, keyPepper)
			if err != nil {
				return err
			}
			if err := txn.Set(keyPepper, ct); err != nil {
				return err
			}
		default:
			return err
		}
		v.subjectKey = hmacSum(pepper, "parley/subject/v1")
		v.dedupeKey = hmacSum(pepper, "parley/message-id/v1")
		v.subjectMAC, v.dedupeMAC = newMACKey(v.subjectKey), newMACKey(v.dedupeKey)
		return nil
	})
}

func (v *Vault) startBackground() {
	// The loop also purges processed messages from the inbox DB, so it runs
	// under every policy; it fsyncs only under SyncCritical.
	v.wg.Add(1)
	go v.syncLoop()
	if v.opts.PurgeDelay > 0 {
		v.wg.Add(1)
		go v.purgeLoop()
	}
}

func (v *Vault) syncLoop() {
	defer v.wg.Done()
	t := time.NewTicker(v.opts.SyncInterval)
	defer t.Stop()
	tick := t.C
	if v.opts.tick != nil {
		tick = v.opts.tick
	}
	for {
		select {
		case <-v.stop:
			return
		case <-tick:
			if err := v.syncAndPurge(); err != nil {
				v.log.Warn("vault periodic sync", "err", err)
			}
			if err := v.rotateTransient(v.now(), false); err != nil {
				v.log.Warn("vault transient key rotation", "err", err)
			}
		}
	}
}

// closed reports whether Close has begun.
func (v *Vault) closed() bool {
	v.closeMu.Lock()
	defer v.closeMu.Unlock()
	return v.isClosed
}

// Close stops the background work, runs pending purges, rotates the
// transient keys if they are due, and closes the database and the ledger. It is safe to call more than once.
func (v *Vault) Close() error {
	v.closeMu.Lock()
	if v.isClosed {
		v.closeMu.Unlock()
		return nil
	}
	v.isClosed = true
	close(v.stop)
	v.closeMu.Unlock()
	v.wg.Wait()
	var errs []error
	if v.st != nil {
		if err := v.Purge(); err != nil {
			errs = append(errs, err)
		}
		if v.ist != nil {
			// Sync the main DB, then drop the processed messages' payloads
			// from the inbox DB (never the other way round).
			if err := v.syncAndPurge(); err != nil {
				errs = append(errs, err)
			}
			// A stopped vault must not keep a transient key past its
			// period until the next start.
			if err := v.rotateTransient(v.now(), false); err != nil {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, v.release())
	return errors.Join(errs...)
}

// release frees what openVault acquired, in reverse order.
func (v *Vault) release() error {
	var errs []error
	if v.bdb != nil {
		errs = append(errs, v.bdb.Close())
	}
	if v.bin != nil {
		errs = append(errs, v.bin.Close())
	}
	if v.st != nil && v.bdb == nil && v.opts.CloseStore {
		errs = append(errs, v.st.Close())
	}
	v.st, v.ist, v.bdb, v.bin = nil, nil, nil, nil
	if v.ledger != nil {
		errs = append(errs, v.ledger.close())
		v.ledger = nil
	}
	if v.lock != nil {
		errs = append(errs, unlockDir(v.lock))
		v.lock = nil
	}
	return errors.Join(errs...)
}
