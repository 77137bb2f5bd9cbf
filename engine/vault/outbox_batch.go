package vault

import (
	"fmt"
)

// OutboxDoneMany removes several sent entries in one transaction. Every
// write waits for all earlier ones to be applied, so a sender acknowledging
// in batches keeps the store responsive under load.
func (v *Vault) OutboxDoneMany(seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	err := v.update(func(txn kvTxn) error {
		for _, seq := range seqs {
			if err := txn.Delete(seqKey(prefixOut, seq)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("vault: outbox done: %w", err)
	}
	return nil
}
