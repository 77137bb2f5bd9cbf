package vault

// labelWebSession is the HKDF label of the web chat's session-cookie key.
const labelWebSession = "parley/vault/web-session/v1"

// WebSessionKey returns the key that signs web chat session cookies,
// derived from the master key under its own label: it survives restarts
// (so do the sessions), changes with the master key, and gives away no
// other key of the vault.
func (v *Vault) WebSessionKey() ([]byte, error) {
	return derive(v.backupRoot, nil, labelWebSession)
}
