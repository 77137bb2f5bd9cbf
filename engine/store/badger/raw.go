package badger

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/ristretto/v2/z"
	"google.golang.org/protobuf/proto"

	"github.com/parleyhq/parley/engine/store"
)

// Version is store.Version, the type ScanVersions reads.
type Version = store.Version

// ScanVersions calls fn for every version the files still hold of every
// record under prefix (nil: all), deleted and expired ones included: keys
// ascending, the newest version of a key first. It is what someone holding
// the files and the key reads, and what a sweep needs to find old versions
// that a Purge must remove. The slices belong to fn's caller.
func (s *Store) ScanVersions(ctx context.Context, prefix []byte, fn func(Version) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	p := s.recordKey(prefix)
	return mapErr(s.db.View(func(t *badgerdb.Txn) error {
		o := badgerdb.DefaultIteratorOptions
		o.AllVersions, o.Prefix = true, p
		it := t.NewIterator(o)
		defer it.Close()
		for it.Seek(p); it.ValidForPrefix(p); it.Next() {
			item := it.Item()
			if !s.raw && item.Key()[0] != spaceRecord {
				continue
			}
			val, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			v := Version{Key: bytes.Clone(s.keyOf(item.Key())), Gone: item.IsDeletedOrExpired()}
			if s.raw {
				v.Value = val
				if e := item.ExpiresAt(); e != 0 {
					v.ExpiresAt = time.Unix(int64(e), 0).UTC()
				}
			} else if len(val) >= 8 {
				r, err := decodeRecord(item.Key()[1:], val)
				if err != nil {
					return err
				}
				v.Value, v.ExpiresAt = r.Value, r.ExpiresAt
			}
			if err := fn(v); err != nil {
				return err
			}
		}
		return nil
	}))
}

// BackupLatest writes the database in Badger's backup format (what Load
// reads), but only the newest version of each key that is neither deleted
// nor expired. Badger's own DB.Backup copies every version of a live key,
// so an old value (a corrected answer, an older conversation state) would
// live on in every backup, long after Purge removed it from the files. The
// stream is plaintext: the caller seals it.
func (s *Store) BackupLatest(ctx context.Context, w io.Writer) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	stream := s.db.NewStream()
	stream.LogPrefix = "store.BackupLatest"
	stream.KeyToList = func(key []byte, itr *badgerdb.Iterator) (*pb.KVList, error) {
		list := &pb.KVList{}
		item := itr.Item()
		if !bytes.Equal(item.Key(), key) || item.IsDeletedOrExpired() {
			return list, nil
		}
		val, err := item.ValueCopy(nil)
		if err != nil {
			return nil, err
		}
		list.Kv = append(list.Kv, &pb.KV{Key: item.KeyCopy(nil), Value: val, UserMeta: []byte{item.UserMeta()},
			Version: item.Version(), ExpiresAt: item.ExpiresAt()})
		return list, nil
	}
	stream.Send = func(buf *z.Buffer) error {
		list, err := badgerdb.BufferToKVList(buf)
		if err != nil {
			return err
		}
		out := list.Kv[:0]
		for _, kv := range list.Kv {
			if !kv.StreamDone {
				out = append(out, kv)
			}
		}
		list.Kv = out
		b, err := proto.Marshal(list)
		if err != nil {
			return err
		}
		if err := binary.Write(w, binary.LittleEndian, uint64(len(b))); err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	if err := stream.Orchestrate(ctx); err != nil {
		return fmt.Errorf("badger store: backup: %w", mapErr(err))
	}
	return nil
}

// Load reads a backup BackupLatest (or Badger's DB.Backup) wrote into the
// database, which should be empty.
func (s *Store) Load(ctx context.Context, r io.Reader) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	s.dropMu.RLock()
	defer s.dropMu.RUnlock()
	if err := s.db.Load(r, 256); err != nil {
		return fmt.Errorf("badger store: load backup: %w", mapErr(err))
	}
	return nil
}

// Size returns the bytes of the LSM tree and of the value log.
func (s *Store) Size() (lsm, vlog int64) { return s.db.Size() }

// CollectGarbage rewrites value log files of which at least half is
// garbage, until none is left: the old values leave the disk.
func (s *Store) CollectGarbage(ctx context.Context) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	for s.db.RunValueLogGC(0.5) == nil {
	}
	return nil
}
