package main

import (
	"os"
	"runtime/debug"
)

func lookupEnv(k string) string { return os.Getenv(k) }

// version reports the module version stamped by the Go toolchain, or "devel".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
