package main

// `rooms create` and `rooms join`: a native member of a room, driven by JSON
// lines (one JSON Patch per stdin line, one event per stdout line). The
// protocol is documented in docs/cli.md; member_io.go has the line types.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/rooms-dev/rooms/pkg/room"
)

func init() {
	registerCommand("create", "create a room and run a member of it (JSON lines on stdin/stdout)",
		func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return runMember(ctx, true, args, os.Stdin, stdout, stderr)
		})
	registerCommand("join", "join a room and run a member of it (JSON lines on stdin/stdout)",
		func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return runMember(ctx, false, args, os.Stdin, stdout, stderr)
		})
}

// leaveTimeout bounds a graceful leave (leadership transfer and removal).
const leaveTimeout = 15 * time.Second

// memberFlags are the flags of `rooms create` and `rooms join`.
type memberFlags struct {
	create                      bool
	signal, key, app, room, id  string
	password                    string
	initial                     string
	loopback, leaveOnEOF, debug bool
	timeout, peerTimeout        time.Duration
	maxMembers, maxVoters       int
}

func parseMemberFlags(create bool, args []string, stderr io.Writer) (memberFlags, error) {
	f := memberFlags{create: create}
	name := "rooms join"
	if create {
		name = "rooms create"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.signal, "signal", room.DefaultSignalURL, "base URL of the PeerJS-protocol signalling server, e.g. http://127.0.0.1:9000/")
	fs.StringVar(&f.key, "key", "peerjs", "PeerJS API key of the signalling server")
	fs.StringVar(&f.app, "app", "rooms", "app id: rooms of different apps never meet on a shared signalling server")
	fs.StringVar(&f.room, "room", "", "room id (required)")
	fs.StringVar(&f.id, "id", "", "this member's participant id (required)")
	fs.StringVar(&f.password, "password", "", "room password, the same for every member (default $ROOMS_PASSWORD, which keeps it out of the process list)")
	if create {
		fs.StringVar(&f.initial, "state", "{}", "initial state of the room (JSON)")
	}
	fs.BoolVar(&f.loopback, "loopback", false, "keep every peer connection on 127.0.0.1 (tests, local use)")
	fs.BoolVar(&f.leaveOnEOF, "leave-on-eof", false, "leave the room and exit once stdin ends and every line has its result")
	fs.BoolVar(&f.debug, "debug", false, "write debug logs to stderr")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "limit for creating or joining, and for each stdin line")
	fs.DurationVar(&f.peerTimeout, "peer-timeout", 15*time.Second, "while doorman: remove a member unreachable for this long")
	fs.IntVar(&f.maxMembers, "max-members", 50, "while doorman: refuse newcomers beyond this room size")
	fs.IntVar(&f.maxVoters, "max-voters", 5, "while doorman: voting members at most; the others are learners")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	if f.password == "" { // not the flag's default: -h would print it
		f.password = os.Getenv("ROOMS_PASSWORD")
	}
	return f, f.check()
}

func (f memberFlags) check() error {
	switch {
	case f.room == "":
		return fmt.Errorf("%w: --room is required", errUsage)
	case f.id == "":
		return fmt.Errorf("%w: --id is required", errUsage)
	case f.create && !json.Valid([]byte(f.initial)):
		return fmt.Errorf("%w: --state is not valid JSON", errUsage)
	case f.timeout <= 0 || f.peerTimeout <= 0:
		return fmt.Errorf("%w: --timeout and --peer-timeout must be positive", errUsage)
	}
	return nil
}

func (f memberFlags) options(onEvent func(room.Event), stderr io.Writer) room.Options {
	opts := room.Options{
		SignalURL: f.signal, SignalKey: f.key, AppID: f.app, Password: f.password, LoopbackOnly: f.loopback,
		MaxMembers: f.maxMembers, MaxVoters: f.maxVoters,
		JoinTimeout: f.timeout, PeerTimeout: f.peerTimeout, OnEvent: onEvent,
	}
	if f.debug {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return opts
}

// runMember creates or joins the room, then serves the JSON-lines protocol
// until ctx is cancelled (SIGINT/SIGTERM: graceful leave, nil), stdin ends
// with --leave-on-eof (the same), or the room closes on its own (an error).
// A failed create or join is reported on stdout as an error line too.
func runMember(ctx context.Context, create bool, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f, err := parseMemberFlags(create, args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	out := newLineWriter(stdout)
	defer out.stop()
	m := newMember(out)
	defer close(m.quit)
	if err := m.open(ctx, f, stderr); err != nil {
		if ctx.Err() != nil { // stopped (SIGINT/SIGTERM) while getting in: nothing to leave
			out.write(closedLine{Event: "closed"})
			return nil
		}
		out.write(errorLine{Event: "error", Message: err.Error(), Code: errorCode(err)})
		return err
	}
	return m.serve(ctx, f, stdin)
}

func (m *member) open(ctx context.Context, f memberFlags, stderr io.Writer) error {
	opts := f.options(m.onEvent, stderr)
	var (
		r   *room.Room
		err error
	)
	if f.create {
		r, err = room.Create(ctx, f.id, f.room, json.RawMessage(f.initial), opts)
	} else {
		r, err = room.Join(ctx, f.id, f.room, opts)
	}
	if err != nil {
		return err
	}
	m.r = r
	if err := m.ready(); err != nil {
		lctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
		defer cancel()
		_ = r.Leave(lctx)
		return err
	}
	return nil
}

// serve runs the event loop: room events to stdout, while a second goroutine
// turns stdin lines into updates.
func (m *member) serve(ctx context.Context, f memberFlags, stdin io.Reader) error {
	lines, cancelLines := context.WithCancel(context.Background())
	defer cancelLines()
	inputDone := make(chan struct{})
	go func() {
		defer close(inputDone)
		m.serveInput(lines, f.timeout, stdin)
	}()
	stop := ctx.Done()
	var eof <-chan struct{}
	if f.leaveOnEOF {
		eof = inputDone
	}
	leaving := false
	for {
		select {
		case e := <-m.events:
			if e.Type == room.EventClosed {
				return m.closed(e, leaving)
			}
			m.handle(e)
		case <-stop:
		case <-eof:
		}
		if !leaving && (ctx.Err() != nil || isClosed(eof)) {
			leaving, stop, eof = true, nil, nil
			cancelLines()
			go func() {
				lctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
				defer cancel()
				_ = m.r.Leave(lctx) // its closed event ends the loop
			}()
		}
	}
}

func isClosed(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// closed writes the last line. Leaving (a signal, or stdin's end with
// --leave-on-eof) is a success whatever happened on the way out; the room
// closing by itself (removed, crashed) is an error.
func (m *member) closed(e room.Event, leaving bool) error {
	line := closedLine{Event: "closed"}
	if e.Err != nil {
		msg := e.Err.Error()
		line.Error, line.Code = &msg, errorCode(e.Err)
	}
	m.out.write(line)
	if e.Err != nil && !leaving {
		return fmt.Errorf("room closed: %w", e.Err)
	}
	return nil
}
