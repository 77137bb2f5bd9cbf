package main

import (
	"fmt"

	"github.com/parleyhq/parley/schemas"
)

func init() {
	register(&command{
		name:    "schema",
		summary: "print the JSON Schema of the flow language",
		usage:   "parley schema",
		help: `Prints the JSON Schema (2020-12) that describes flow files. Editors use it
for completion and inline help: every example flow starts with
  # yaml-language-server: $schema=../schemas/flow.schema.json`,
		run: func(c *cli, args []string) int {
			fs := c.flags(commands["schema"])
			if code, ok := c.parse(fs, args); !ok {
				return code
			}
			if fs.NArg() > 0 {
				fmt.Fprintln(c.stderr, "parley schema: takes no arguments")
				return exitUsage
			}
			c.stdout.Write(schemas.FlowJSON)
			return exitOK
		},
	})
}
