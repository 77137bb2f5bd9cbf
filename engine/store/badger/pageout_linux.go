package badger

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// madvPageout is MADV_PAGEOUT (linux/mman-common.h), which the syscall
// package does not name.
const madvPageout = 21

// pageOutSupported: MADV_PAGEOUT exists on Linux.
const pageOutSupported = true

// pageOutTables asks the kernel to reclaim the resident pages of the table
// files under dir that are mapped into this process (madvise MADV_PAGEOUT,
// Linux 5.4 or later), and returns how many mappings it advised.
//
// Badger writes every new table through a shared memory map and msyncs it,
// so each table it writes (a memtable flush, every compaction's output)
// stays resident in the process until the table is deleted: the RSS then
// grows with the data on disk (~1 MiB per MiB of tables; bench/findings.md
// §3). The pages are clean after the msync, so reclaiming them loses
// nothing: a later read of the table faults them back in from the disk.
// Badger keeps its mappings to itself, so they are found by path in
// /proc/self/maps. A mapping may be unmapped (a table deleted by a
// compaction) and its addresses reused between the read and the advice;
// MADV_PAGEOUT never discards contents, so the worst it can do to another
// mapping is page it out early.
func pageOutTables(dir string) int {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	prefix := []byte(dir + string(os.PathSeparator))
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path; only the path has a '/'
		line := sc.Bytes()
		i := bytes.IndexByte(line, '/')
		if i < 0 || !bytes.HasPrefix(line[i:], prefix) || !bytes.HasSuffix(line, []byte(".sst")) {
			continue
		}
		addr, _, _ := bytes.Cut(line, []byte{' '})
		lo, hi, ok := bytes.Cut(addr, []byte{'-'})
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		// Errors are ignored: ENOMEM if the table was unmapped meanwhile,
		// EINVAL on a kernel without MADV_PAGEOUT (nothing to do then).
		_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), madvPageout)
		if errno == 0 {
			n++
		}
	}
	return n
}
