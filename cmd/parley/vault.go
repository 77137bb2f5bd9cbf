package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
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

// masterKey finds the master key, creating a development key with a loud
// warning when none is configured.
func (c *cli) masterKey(dataDir, keyFile string) ([]byte, error) {
	key, generated, err := vault.LoadMasterKey(c.getenv("PARLEY_MASTER_KEY"), keyFile, dataDir)
	if err != nil {
		return nil, err
	}
	if generated {
		fmt.Fprintf(c.stderr, `
WARNING: no master key configured. A DEVELOPMENT key was created in
%s/%s. Anyone who can read that file can read the data. For real
data, set PARLEY_MASTER_KEY (base64 of 32 random bytes, e.g. from
'openssl rand -base64 32') or pass --key-file, and keep the key apart
from the data and its backups.

`, dataDir, vault.DevKeyFile)
	}
	return key, nil
}

// openVault opens the vault in dataDir. now, when set, is the clock the
// vault judges expiry with.
func (c *cli) openVault(dataDir, keyFile string, now func() time.Time, log *slog.Logger) (*vault.Vault, error) {
	if dataDir == "" {
		return nil, errors.New("name the data directory with --data DIR")
	}
	key, err := c.masterKey(dataDir, keyFile)
	if err != nil {
		return nil, err
	}
	v, err := vault.Open(vault.Options{Dir: dataDir, MasterKey: key, Now: now, Logger: log})
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
	v, err := c.openVault(dataDir, keyFile, now, nil)
	if err != nil {
		return nil, nil, err
	}
	return session.New(v), func() { v.Close() }, nil
}
