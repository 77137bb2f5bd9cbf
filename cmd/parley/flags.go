package main

import "flag"

// parseAnywhere parses args like parse, but flags may also come after the
// positional arguments (`parley lint flows/ --format sarif`), the way
// authors type them. "--" ends the flags: everything after it is
// positional. It returns the positional arguments in order.
func (c *cli) parseAnywhere(fs *flag.FlagSet, args []string) (positional []string, code int, ok bool) {
	for {
		if code, ok := c.parse(fs, args); !ok {
			return nil, code, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, 0, true
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), 0, true
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
