package vault

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DevKeyFile is the name of the development master key LoadMasterKey creates
// in the data directory when no key is configured.
const DevKeyFile = "master.key"

// LoadMasterKey finds the master key. envValue is the content of
// PARLEY_MASTER_KEY (base64 of 32 bytes); keyFile a path to a file holding
// the key as base64 text or 32 raw bytes. Giving both is an error. With
// neither, a development key is created once in dataDir/master.key (mode
// 0600) and reused afterwards; generated is true when it was just created, so
// the caller can warn loudly. Errors never contain key material.
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
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, false, fmt.Errorf("vault: read key file: %w", err)
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
	if b, err := os.ReadFile(path); err == nil {
		k, err := parseKey(b)
		if err != nil {
			return nil, false, fmt.Errorf("vault: development key %s: %w", path, err)
		}
		return k, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("vault: read development key: %w", err)
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
