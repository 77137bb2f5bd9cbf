package vault

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyFileReadableByOthersIsRefused: a key file, given or development,
// that group or others may read is refused with ErrKeyFileMode and the
// chmod fix; the error holds no key material. Mode 0600 and 0400 load.
func TestKeyFileReadableByOthersIsRefused(t *testing.T) {
	want := testKey(9)
	b64 := base64.StdEncoding.EncodeToString(want)
	dir := t.TempDir()
	given := filepath.Join(dir, "given.key")
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	dev := filepath.Join(data, DevKeyFile)
	for _, p := range []string{given, dev} {
		if err := os.WriteFile(p, []byte(b64+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	load := func(p string) error {
		if p == given {
			_, _, err := LoadMasterKey("", given, "")
			return err
		}
		_, _, err := LoadMasterKey("", "", data)
		return err
	}
	for _, p := range []string{given, dev} {
		for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o606} {
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
			err := load(p)
			if !errors.Is(err, ErrKeyFileMode) || !strings.Contains(err.Error(), "chmod 600 "+p) || strings.Contains(err.Error(), b64) {
				t.Errorf("%s at mode %#o: %v; want ErrKeyFileMode with the chmod fix and no key", filepath.Base(p), mode, err)
			}
		}
		for _, mode := range []os.FileMode{0o600, 0o400} {
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
			if err := load(p); err != nil {
				t.Errorf("%s at mode %#o: %v; want it loaded", filepath.Base(p), mode, err)
			}
		}
	}
}

// TestExistsOnlyForAnOpenedVault: Exists is false for a missing or empty
// directory (or one holding only a development key) and true once Open
// created the store.
func TestExistsOnlyForAnOpenedVault(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if ok, err := Exists(dir); ok || err != nil {
		t.Errorf("Exists(missing) = %v, %v; want false", ok, err)
	}
	if _, _, err := LoadMasterKey("", "", dir); err != nil {
		t.Fatal(err)
	}
	if ok, err := Exists(dir); ok || err != nil {
		t.Errorf("Exists(dir with only a key) = %v, %v; want false", ok, err)
	}
	v, err := Open(Options{Dir: dir, MasterKey: testKey(3)})
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	if ok, err := Exists(dir); !ok || err != nil {
		t.Errorf("Exists(opened vault) = %v, %v; want true", ok, err)
	}
}
