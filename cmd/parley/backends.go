package main

// The storage backends this binary ships. Each registers itself in
// engine/store under its name (the scheme of its URLs); the vault and
// --store find them there, so adding a backend is its package plus one
// line here (docs/storage.md "Adding a backend").
import (
	_ "github.com/parleyhq/parley/engine/store/badger"   // --data DIR (the default)
	_ "github.com/parleyhq/parley/engine/store/postgres" // --store postgres://…
)
