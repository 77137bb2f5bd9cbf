package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/vault"
)

// vaultFlags are the flags every command that opens the vault shares.
type vaultFlags struct {
	data    *string
	keyFile *string
	store   *string
}

func addVaultFlags(fs *flag.FlagSet, defaultDir string) vaultFlags {
	return vaultFlags{
		data:    fs.String("data", defaultDir, "data directory of the encrypted vault"),
		keyFile: fs.String("key-file", "", "file holding the master key (default: $PARLEY_MASTER_KEY, else DATA/master.key)"),
		store:   addStoreFlag(fs),
	}
}

func addStoreFlag(fs *flag.FlagSet) *string {
	return fs.String("store", "", "keep the vault in this PostgreSQL database, postgres://USER@HOST/DB, instead of --data (default: $PARLEY_STORE_URL); several parley serve may share one database, CLI commands may run beside them (docs/deploy.md)")
}

// hasVault reports whether the command was told where the vault is.
func (c *cli) hasVault(vf vaultFlags) bool { return *vf.data != "" || c.storeURL(vf.store) != "" }

// storeURL is --store, else $PARLEY_STORE_URL ("" for the Badger files in
// --data).
func (c *cli) storeURL(flag *string) string {
	if *flag != "" {
		return *flag
	}
	return c.getenv("PARLEY_STORE_URL")
}

// openStore connects to the database of url through the backend registered
// under its scheme (postgres://: engine/store/postgres, which applies the
// schema migrations); the vault it is given to closes it.
func openStore(url string, now func() time.Time) (store.Store, error) {
	if scheme, _, _ := strings.Cut(url, "://"); scheme == vault.LocalBackend || !strings.Contains(url, "://") {
		return nil, errors.New("--store (or PARLEY_STORE_URL) takes a PostgreSQL URL such as postgres://parley@db.internal:5432/parley; for the embedded store on this machine use --data DIR instead")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.OpenURL(ctx, store.Config{URL: url, Now: now})
	if errors.Is(err, store.ErrUnknownBackend) {
		return nil, fmt.Errorf("--store (or PARLEY_STORE_URL) takes a PostgreSQL URL such as postgres://parley@db.internal:5432/parley; this parley knows the stores %s, not the one the URL names", strings.Join(store.Backends(), ", "))
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// openStoreVault opens (creating=false: only an existing) vault in the
// PostgreSQL database of url. The master key must be configured: instances
// sharing a database must share the key, so no development key is made.
func (c *cli) openStoreVault(url, keyFile string, creating bool, now func() time.Time, log *slog.Logger) (*vault.Vault, error) {
	env := c.getenv("PARLEY_MASTER_KEY")
	if env == "" && keyFile == "" {
		return nil, errors.New("with --store (or PARLEY_STORE_URL) set the master key with PARLEY_MASTER_KEY or --key-file: every instance on the database needs the same key, so no development key is made")
	}
	key, _, err := vault.LoadMasterKey(env, keyFile, "")
	if err != nil {
		return nil, err
	}
	st, err := openStore(url, now)
	if err != nil {
		return nil, err
	}
	if !creating {
		ok, err := vault.ExistsOn(st)
		if err == nil && !ok {
			err = errors.New("the database named by --store holds no Parley vault (nothing was created there): point --store at the database 'parley serve --store' keeps its data in")
		}
		if err != nil {
			st.Close()
			return nil, err
		}
	}
	v, err := vault.Open(vault.Options{Store: st, CloseStore: true, MasterKey: key, Now: now, Logger: log})
	if err != nil {
		st.Close()
		if errors.Is(err, vault.ErrWrongKey) {
			return nil, errors.New("the master key does not open the data in the database named by --store (nothing was changed): check PARLEY_MASTER_KEY or --key-file")
		}
		return nil, err
	}
	return v, nil
}

// masterKey finds the master key, creating a development key when none is
// configured. Every start that uses the development key warns, not only the
// one that created it: the warning goes to log when there is one (serve, in
// its chosen format), else to stderr.
func (c *cli) masterKey(dataDir, keyFile string, log *slog.Logger) ([]byte, error) {
	env := c.getenv("PARLEY_MASTER_KEY")
	key, generated, err := vault.LoadMasterKey(env, keyFile, dataDir)
	if err != nil {
		return nil, err
	}
	if env != "" || keyFile != "" {
		return key, nil
	}
	path := filepath.Join(dataDir, vault.DevKeyFile)
	how := "is in use"
	if generated {
		how = "was created"
	}
	if log != nil {
		log.Warn("no master key configured: the DEVELOPMENT key "+how+"; anyone who can read it can read the data. For real data set PARLEY_MASTER_KEY or --key-file and keep the key apart from the data and its backups",
			"key_file", path)
		return key, nil
	}
	fmt.Fprintf(c.stderr, `
WARNING: no master key configured. A DEVELOPMENT key %s:
  %s
Anyone who can read that file can read the data. For real data, set
PARLEY_MASTER_KEY (base64 of 32 random bytes, for example from
'openssl rand -base64 32') or pass --key-file, and keep the key apart
from the data and its backups.

`, how, path)
	return key, nil
}

// openVault opens the existing vault in dataDir and refuses a directory
// that holds none, so that a mistyped --data never creates an empty vault
// and answers "nothing held". now, when set, is the clock the vault judges
// expiry with.
func (c *cli) openVault(vf vaultFlags, now func() time.Time, log *slog.Logger) (*vault.Vault, error) {
	if url := c.storeURL(vf.store); url != "" {
		return c.openStoreVault(url, *vf.keyFile, false, now, log)
	}
	dataDir, keyFile := *vf.data, *vf.keyFile
	if dataDir == "" {
		return nil, errors.New("name the data directory with --data DIR")
	}
	ok, err := vault.Exists(dataDir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s holds no Parley vault (nothing was created there): point --data at the directory 'parley serve --data' or 'parley chat --data' keeps its data in (serve's default is ./data)", dataDir)
	}
	return c.createVault(dataDir, "", keyFile, now, log)
}

// createVault opens the vault in dataDir, creating it when there is none:
// for serve and chat, whose job includes starting a new store.
func (c *cli) createVault(dataDir, storeURL, keyFile string, now func() time.Time, log *slog.Logger) (*vault.Vault, error) {
	if storeURL != "" {
		return c.openStoreVault(storeURL, keyFile, true, now, log)
	}
	if dataDir == "" {
		return nil, errors.New("name the data directory with --data DIR")
	}
	key, err := c.masterKey(dataDir, keyFile, log)
	if err != nil {
		return nil, err
	}
	o := vault.Options{Dir: dataDir, MasterKey: key, Now: now, Logger: log}
	if now != nil {
		// A moved clock (chat --now) is for the simulated conversation;
		// history is always dated by the real one.
		o.HistoryNow = time.Now
	}
	v, err := vault.Open(o)
	switch {
	case errors.Is(err, vault.ErrWrongKey):
		return nil, fmt.Errorf("the master key does not open the data in %s (nothing was changed): check PARLEY_MASTER_KEY or --key-file", dataDir)
	case errors.Is(err, vault.ErrLocked):
		return nil, fmt.Errorf("the data in %s is in use by another parley process; stop it first (several instances share a PostgreSQL database instead: --store, see docs/deploy.md)", dataDir)
	case err != nil:
		return nil, err
	}
	return v, nil
}

// openSessionStore opens the vault for `parley chat --data`.
func openSessionStore(c *cli, dataDir, storeURL, keyFile string, now func() time.Time) (*session.Store, func(), error) {
	v, err := c.createVault(dataDir, storeURL, keyFile, now, nil)
	if err != nil {
		return nil, nil, err
	}
	return session.New(v), func() { v.Close() }, nil
}
