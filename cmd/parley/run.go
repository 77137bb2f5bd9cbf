package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/parleyhq/parley/engine/diag"
)

// Exit codes, listed in `parley help`.
const (
	exitOK       = 0 // success; lint found no errors
	exitFindings = 1 // lint errors, failing checks, serve refusing a broken flow
	exitUsage    = 2 // unknown command or flag, missing argument, nothing to lint
	exitFailure  = 3 // unreadable file, vault will not open, port in use
)

// command is one subcommand. run gets the arguments after the command name.
type command struct {
	name    string
	summary string
	usage   string // one line: "parley lint [flags] PATH..."
	help    string // paragraphs after the usage line
	run     func(c *cli, args []string) int
}

// cli carries the process's streams so that tests can run commands in-process.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("parley: duplicate command " + c.name)
	}
	commands[c.name] = c
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: lookupEnv}
	if len(args) == 0 {
		c.usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if cmd, ok := commands[args[1]]; ok {
				hc := *c
				hc.stderr = stdout
				return cmd.run(&hc, []string{"--help"})
			}
			fmt.Fprintf(stderr, "parley: unknown command %q%s\n", args[1], suggestCommand(args[1]))
			return exitUsage
		}
		c.usage(stdout)
		return exitOK
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "parley", version())
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "parley: unknown command %q%s\nRun 'parley help' for the list of commands.\n", args[0], suggestCommand(args[0]))
		return exitUsage
	}
	return cmd.run(c, args[1:])
}

func suggestCommand(name string) string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	if s := diag.DidYouMean(name, names); s != "" {
		return " (" + s + ")"
	}
	return ""
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprint(w, `Parley lints, simulates and serves conversational flows written in YAML.

Usage:
  parley <command> [flags] [arguments]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `  version    print the version

Run 'parley help <command>' or 'parley <command> --help' for details.

Exit codes:
  0  success (lint: no errors)
  1  findings: lint errors, or serve refusing to start because a flow has errors
  2  usage: unknown command or flag, missing argument, no flow file matched
  3  failure: unreadable file, vault will not open, port in use
`)
}

// flags returns a FlagSet for cmd whose errors and help go to stderr.
func (c *cli) flags(cmd *command) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { cmd.printHelp(c.stderr, fs) }
	return fs
}

// parse parses args; it returns ok=false with the exit code to use when the
// command should stop (help asked: 0; bad flags: 2).
func (c *cli) parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK, false
	}
	if err != nil {
		return exitUsage, false
	}
	return 0, true
}

func (cmd *command) printHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", cmd.usage, strings.TrimSpace(cmd.help))
	if fs == nil {
		return
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
}
