//go:build !unix

package server_test

import "time"

// processCPU is not measured here (cpu_unix_test.go).
func processCPU() time.Duration { return 0 }
