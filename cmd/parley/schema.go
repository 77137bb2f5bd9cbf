package main

import (
	"fmt"

	"github.com/parleyhq/parley/schemas"
)

func init() {
	register(&command{
		name:    "schema",
		summary: "print the JSON Schema of the flow language",
		usage:   "parley schema [--test | --policy]",
		help: `Prints the JSON Schema (2020-12) that describes flow files. Editors use it
for completion and inline help: every example flow starts with
  # yaml-language-server: $schema=../schemas/flow.schema.json
Outside this repository, write the schemas next to your flows and point the
modeline at them:
  mkdir schemas
  parley schema > schemas/flow.schema.json
  parley schema --test > schemas/flowtest.schema.json    # for *_test.yaml
  parley schema --policy > schemas/policy.schema.json    # for .parley.yaml`,
		run: func(c *cli, args []string) int {
			fs := c.flags(commands["schema"])
			test := fs.Bool("test", false, "print the schema of flow test files (*_test.yaml) instead")
			policy := fs.Bool("policy", false, "print the schema of the lint policy file (.parley.yaml) instead")
			if code, ok := c.parse(fs, args); !ok {
				return code
			}
			if fs.NArg() > 0 {
				fmt.Fprintln(c.stderr, "parley schema: takes no arguments")
				return exitUsage
			}
			switch {
			case *test && *policy:
				fmt.Fprintln(c.stderr, "parley schema: --test and --policy print different schemas: pick one")
				return exitUsage
			case *test:
				c.stdout.Write(schemas.FlowTestJSON)
			case *policy:
				c.stdout.Write(schemas.PolicyJSON)
			default:
				c.stdout.Write(schemas.FlowJSON)
			}
			return exitOK
		},
	})
}
