package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

// vaultFlags are the flags every command that opens the vault shares.
type vaultFlags struct {
	data    *string
	keyFile *string
}

func addVaultFlags(fs *flag.FlagSet, defaultDir string) vaultFlags {
	return vaultFlags{
		data:    fs.String("data", defaultDir, "data directory of the encrypted vault"),
		keyFile: fs.String("key-file", "", "file holding the master key (default: $PARLEY_MASTER_KEY, else DATA/master.key)"),
	}
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
func (c *cli) openVault(dataDir, keyFile string, now func() time.Time, log *slog.Logger) (*vault.Vault, error) {
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
	return c.createVault(dataDir, keyFile, now, log)
}

// createVault opens the vault in dataDir, creating it when there is none:
// for serve and chat, whose job includes starting a new store.
func (c *cli) createVault(dataDir, keyFile string, now func() time.Time, log *slog.Logger) (*vault.Vault, error) {
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
		return nil, fmt.Errorf("the data in %s is in use by another parley process; stop it first", dataDir)
	case err != nil:
		return nil, err
	}
	return v, nil
}

// openSessionStore opens the vault for `parley chat --data`.
func openSessionStore(c *cli, dataDir, keyFile string, now func() time.Time) (*session.Store, func(), error) {
	v, err := c.createVault(dataDir, keyFile, now, nil)
	if err != nil {
		return nil, nil, err
	}
	return session.New(v), func() { v.Close() }, nil
}
