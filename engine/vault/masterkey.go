package vault

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
)

// DevKeyFile is the name of the development master key LoadMasterKey creates
// in the data directory when no key is configured.
const DevKeyFile = "master.key"

// LoadMasterKey finds the master key. envValue is the content of
// PARLEY_MASTER_KEY (base64 of 32 bytes); keyFile a path to a file holding
// the key as base64 text or 32 raw bytes. Giving both is an error. With
// neither, a development key is created once in dataDir/master.key (mode
// 0600) and reused afterwards; generated is true when it was just created.
// A key file (given or development) that group or others may read is
// refused with ErrKeyFileMode: whoever can read it can read the data. Errors
// never contain key material.
func LoadMasterKey(envValue, keyFile, dataDir string) (key []byte, generated bool, err error) {
	switch {
	case envValue != "" && keyFile != "":
		return nil, false, errors.New("vault: master key given both in PARLEY_MASTER_KEY and as a key file; use one")
	case envValue != "":
		k, err := parseKey([]byte(envValue))
		if err != nil {
			return nil, false, fmt.Errorf("vault: PARLEY_MASTER_KEY: %w", err)
		}
		return k, false, nil
	case keyFile != "":
		b, err := readKeyFile(keyFile)
		if err != nil {
			return nil, false, err
		}
		k, err := parseKey(b)
		if err != nil {
			return nil, false, fmt.Errorf("vault: key file %s: %w", keyFile, err)
		}
		return k, false, nil
	}
	if dataDir == "" {
		return nil, false, errors.New("vault: no master key: set PARLEY_MASTER_KEY or a key file")
	}
	path := filepath.Join(dataDir, DevKeyFile)
	if b, err := readKeyFile(path); err == nil {
		k, err := parseKey(b)
		if err != nil {
			return nil, false, fmt.Errorf("vault: development key %s: %w", path, err)
		}
		return k, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("vault: create %s: %w", dataDir, err)
	}
	k, err := randomBytes(MasterKeySize)
	if err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("vault: create development key: %w", err)
	}
	_, werr := f.Write([]byte(base64.StdEncoding.EncodeToString(k) + "\n"))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return nil, false, fmt.Errorf("vault: write development key: %w", err)
	}
	return k, true, syncDir(dataDir)
}

// ErrKeyFileMode is returned (wrapped) when a key file may be read by users
// other than its owner.
var ErrKeyFileMode = errors.New("key file is readable by other users")

// readKeyFile reads a key file after checking that only its owner may read
// it. Windows has no such mode bits; there the check is left to the ACLs.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vault: read key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("vault: read key file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && goruntime.GOOS != "windows" {
		return nil, fmt.Errorf("vault: %w: %s has mode %#o; run chmod 600 %s so only its owner can read it", ErrKeyFileMode, path, perm, path)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("vault: read key file: %w", err)
	}
	return b, nil
}

func parseKey(b []byte) ([]byte, error) {
	if len(b) == MasterKeySize && !isBase64Text(b) {
		return bytes.Clone(b), nil // raw key file
	}
	s := string(bytes.TrimSpace(b))
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := e.DecodeString(s); err == nil {
			if len(k) != MasterKeySize {
				return nil, fmt.Errorf("want base64 of %d bytes, got %d bytes", MasterKeySize, len(k))
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("not base64 (want base64 of %d random bytes, e.g. from `openssl rand -base64 32`)", MasterKeySize)
}

func isBase64Text(b []byte) bool {
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '-' || c == '_' || c == '=') {
			return false
		}
	}
	return true
}
