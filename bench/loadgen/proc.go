package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// procStats is what /proc says about the server under load: resident
// memory and CPU time (user+system).
type procStats struct {
	rssKB, hwmKB int64
	cpu          float64 // seconds
}

func readProc(pid int) (procStats, error) {
	var p procStats
	if pid <= 0 {
		return p, errors.New("no -pid")
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			p.rssKB = v
		case "VmHWM:":
			p.hwmKB = v
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, err
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) > 12 {
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		p.cpu = float64(ut+st) / 100 // USER_HZ is 100 on Linux
	}
	return p, nil
}

// watch samples pid's RSS every 50 ms until stop is called, which returns
// the CPU seconds used since watch began and the peak RSS seen.
func watch(pid int) (stop func() (cpu float64, peakKB int64, err error)) {
	before, err := readProc(pid)
	if err != nil {
		return func() (float64, int64, error) { return 0, 0, err }
	}
	var peak atomic.Int64
	peak.Store(before.rssKB)
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if p, err := readProc(pid); err == nil && p.rssKB > peak.Load() {
					peak.Store(p.rssKB)
				}
			}
		}
	}()
	return func() (float64, int64, error) {
		close(done)
		<-sampled
		after, err := readProc(pid)
		if err != nil {
			return 0, peak.Load(), err
		}
		return after.cpu - before.cpu, max(peak.Load(), after.rssKB), nil
	}
}
