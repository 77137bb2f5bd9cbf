package host_test

// The vault finds its data-directory backend in engine/store's registry;
// this test binary ships Badger as cmd/parley does (cmd/parley/backends.go).
import _ "github.com/parleyhq/parley/engine/store/badger"
