// Command rooms is the Rooms command-line tool: `rooms <command> [flags]`.
// Run `rooms help` for the list of commands.
//
// Each command lives in its own file (signal.go, ...) and adds itself to
// the table in an init function:
//
//	func init() {
//		registerCommand("signal", "run the PeerJS-protocol signalling server", runSignal)
//	}
//
// A command gets a context that is cancelled on SIGINT or SIGTERM, its
// arguments after the command name, and stdout/stderr; it returns an error
// to exit with status 1, or errUsage (wrapped) for status 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand of rooms.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is filled by the init functions of the command files.
var commands = map[string]command{}

// errUsage marks a command-line mistake: rooms exits with status 2.
var errUsage = errors.New("usage error")

// registerCommand adds a subcommand; it panics on a duplicate name, which is
// a programming error found by any test.
func registerCommand(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	if _, dup := commands[name]; dup {
		panic("rooms: command registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args to a command and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "rooms: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "rooms %s: %v\n", name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "rooms %s: %v\n", name, err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: rooms <command> [flags]")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'rooms <command> -h' for a command's flags.")
}

// parseFlags parses a command's arguments into fs. It returns flag.ErrHelp
// for -h, and errUsage (wrapped) for a bad flag or a stray argument.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	return nil
}

// newLogger writes text logs to w, at debug level when debug is set.
func newLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
