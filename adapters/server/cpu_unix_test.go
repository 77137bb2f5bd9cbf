//go:build unix

package server_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) this process has used: the
// server's, the load's and the Graph double's, all in this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
