//go:build !linux

package badger

// pageOutSupported: only Linux has MADV_PAGEOUT.
const pageOutSupported = false

// pageOutTables does nothing where MADV_PAGEOUT does not exist.
func pageOutTables(string) int { return 0 }
