package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rooms-dev/rooms/internal/signaltest"
	"github.com/rooms-dev/rooms/internal/testenv"
	"github.com/rooms-dev/rooms/pkg/signal/server"
)

const memberWait = 30 * time.Second

// startSignalServer runs our signalling server on a loopback port. A short
// ExpireTimeout makes a knock on a missing room fail fast.
func startSignalServer(t *testing.T) string {
	return signaltest.Start(t, server.Config{ExpireTimeout: 500 * time.Millisecond})
}

// line is one decoded stdout line.
type line map[string]any

func (l line) event() string { s, _ := l["event"].(string); return s }

// lineSink is a member's stdout: it splits what is written into lines and
// decodes each, remembering any that is not a whole JSON object.
type lineSink struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines []line
	bad   []string
	wake  chan struct{}
}

func newLineSink() *lineSink { return &lineSink{wake: make(chan struct{}, 1)} }

func (s *lineSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf.Write(p)
	for {
		i := bytes.IndexByte(s.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		raw := string(s.buf.Next(i + 1))
		var l line
		if err := json.Unmarshal([]byte(raw), &l); err != nil || l.event() == "" {
			s.bad = append(s.bad, raw)
		} else {
			s.lines = append(s.lines, l)
		}
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// waitFor returns the first line that satisfies ok, failing the test after
// memberWait or on any malformed line.
func (s *lineSink) waitFor(t *testing.T, what string, ok func(line) bool) line {
	t.Helper()
	deadline := time.After(memberWait)
	for {
		s.mu.Lock()
		if len(s.bad) > 0 {
			s.mu.Unlock()
			t.Fatalf("malformed stdout lines: %q", s.bad)
		}
		for _, l := range s.lines {
			if ok(l) {
				s.mu.Unlock()
				return l
			}
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-deadline:
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("timed out waiting for %s; lines: %v", what, s.lines)
		}
	}
}

func (s *lineSink) all() []line {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]line(nil), s.lines...)
}

// cliMember is runMember running in-process on pipes.
type cliMember struct {
	name   string
	stdin  *io.PipeWriter
	out    *lineSink
	stderr *testenv.LogBuffer
	cancel context.CancelFunc
	done   chan struct{}
	err    error // runMember's result, once done is closed
}

// wait returns runMember's result, failing the test if it does not return.
func (m *cliMember) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-m.done:
		return m.err
	case <-time.After(memberWait):
		t.Fatalf("member %s did not stop", m.name)
		return nil
	}
}

func startCLIMember(t *testing.T, create bool, args ...string) *cliMember {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	inR, inW := io.Pipe()
	m := &cliMember{name: strings.Join(args, " "), stdin: inW, out: newLineSink(), stderr: &testenv.LogBuffer{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		m.err = runMember(ctx, create, args, inR, m.out, m.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		inW.Close()
		m.wait(t)
	})
	return m
}

func memberArgs(url, roomID, id string, extra ...string) []string {
	return append([]string{"--signal", url, "--app", "cli-test", "--room", roomID, "--id", id, "--loopback", "--timeout", "20s"}, extra...)
}

func (m *cliMember) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(m.stdin, s+"\n"); err != nil {
		t.Fatalf("write stdin: %v", err)
	}
}

func (m *cliMember) ready(t *testing.T) line {
	t.Helper()
	return m.out.waitFor(t, "ready", func(l line) bool { return l.event() == "ready" })
}

func (m *cliMember) result(t *testing.T, n int) line {
	t.Helper()
	return m.out.waitFor(t, fmt.Sprintf("result of line %d", n), func(l line) bool {
		return l.event() == "result" && l["line"] == float64(n)
	})
}

func (m *cliMember) stateAt(t *testing.T, version int) line {
	t.Helper()
	return m.out.waitFor(t, fmt.Sprintf("state-update to version %d", version), func(l line) bool {
		return l.event() == "state-update" && l["version"] == float64(version)
	})
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func TestMemberCreateJoinUpdateLeave(t *testing.T) {
	url := startSignalServer(t)
	alice := startCLIMember(t, true, memberArgs(url, "r1", "alice", "--state", `{"n":0}`)...)
	ready := alice.ready(t)
	if ready["self"] != "alice" || ready["doorman"] != "alice" || jsonOf(t, ready["state"]) != `{"n":0}` {
		t.Fatalf("alice's ready line: %v", ready)
	}
	bob := startCLIMember(t, false, memberArgs(url, "r1", "bob")...)
	ready = bob.ready(t)
	if ready["doorman"] != "alice" || jsonOf(t, ready["state"]) != `{"n":0}` || len(ready["peers"].([]any)) != 2 {
		t.Fatalf("bob's ready line: %v", ready)
	}
	alice.out.waitFor(t, "bob's arrival", func(l line) bool { return l.event() == "peer-join" && l["peer"] == "bob" })

	bob.send(t, `[{"op":"replace","path":"/n","value":1},{"op":"add","path":"/tag","value":"<b>"}]`)
	if res := bob.result(t, 1); res["ok"] != true || res["error"] != nil || res["version"] != float64(1) {
		t.Fatalf("bob's result: %v", res)
	}
	for _, m := range []*cliMember{alice, bob} {
		up := m.stateAt(t, 1)
		change := up["change"].(map[string]any)
		if got := jsonOf(t, up["state"]); got != `{"n":1,"tag":"<b>"}` || change["by"] != "bob" || change["seq"] != float64(1) {
			t.Fatalf("state-update: %v", up)
		}
	}
	alice.send(t, `{"read":true}`)
	if res := alice.result(t, 1); res["ok"] != true || jsonOf(t, res["state"]) != `{"n":1,"tag":"<b>"}` {
		t.Fatalf("alice's read: %v", res)
	}
	alice.send(t, `{"peers":true}`)
	res := alice.result(t, 2)
	peers, _ := res["peers"].([]any)
	if res["ok"] != true || len(peers) != 2 {
		t.Fatalf("alice's peers: %v", res)
	}
	for _, p := range peers {
		p := p.(map[string]any)
		if want := p["id"] == "alice"; p["doorman"] != want || p["self"] != want || (!want && p["state"] != "connected") {
			t.Errorf("alice lists %v", p)
		}
	}
	bob.send(t, `{"send":{"hi":"alice"},"to":"alice"}`)
	if res := bob.result(t, 2); res["ok"] != true {
		t.Fatalf("bob's send: %v", res)
	}
	msg := alice.out.waitFor(t, "bob's message", func(l line) bool { return l.event() == "message" })
	if msg["from"] != "bob" || jsonOf(t, msg["data"]) != `{"hi":"alice"}` {
		t.Fatalf("alice got %v", msg)
	}

	bob.cancel() // what SIGTERM does
	if err := bob.wait(t); err != nil {
		t.Fatalf("bob after a graceful leave: %v", err)
	}
	last := bob.out.all()
	if l := last[len(last)-1]; l.event() != "closed" || l["error"] != nil {
		t.Fatalf("bob's last line: %v", l)
	}
	alice.out.waitFor(t, "bob's departure", func(l line) bool { return l.event() == "peer-leave" && l["peer"] == "bob" })
}

func TestMemberBadLinesGetErrors(t *testing.T) {
	url := startSignalServer(t)
	alice := startCLIMember(t, true, memberArgs(url, "r2", "alice", "--state", `{"n":0}`)...)
	alice.ready(t)
	bad := []struct{ input, code, mention string }{
		{`garbage`, "bad-line", "JSON Patch"},
		{``, "bad-line", "empty line"},
		{`{"op":"add","path":"/x","value":1}`, "bad-line", "array of ops"},
		{`[{"op":"nope","path":"/x"}]`, "malformed", "not a valid JSON Patch"},
		{`[{"op":"add","path":"/x","value":1}`, "malformed", "not a valid JSON Patch"},
		{`[{"op":"test","path":"/n","value":5},{"op":"replace","path":"/n","value":6}]`, "conflict", "test failed"},
		{`[{"op":"remove","path":"/missing"}]`, "conflict", "/missing"},
		{`{"send":1,"read":true}`, "bad-line", "one of"},
		{`{"peers":true,"extra":1}`, "bad-line", "unknown field"},
		{`{"send":{"hi":1},"to":"nobody"}`, "", "nobody"},
		{"[" + strings.Repeat(" ", maxLineSize) + "]", "bad-line", "longer than"},
	}
	for _, b := range bad {
		alice.send(t, b.input)
	}
	alice.send(t, `[{"op":"replace","path":"/n","value":7}]`)
	for i, b := range bad {
		res := alice.result(t, i+1)
		msg, _ := res["error"].(string)
		if res["ok"] != false || !strings.Contains(msg, b.mention) || !strings.HasPrefix(msg, fmt.Sprintf("line %d: ", i+1)) || res["code"] != valueOrNil(b.code) {
			t.Errorf("line %d (%.40q): result %v, want an error mentioning %q with code %q", i+1, b.input, res, b.mention, b.code)
		}
	}
	if res := alice.result(t, len(bad)+1); res["ok"] != true {
		t.Fatalf("a good line after bad ones: %v", res)
	}
	if up := alice.stateAt(t, 1); jsonOf(t, up["state"]) != `{"n":7}` {
		t.Fatalf("state after the only good line: %v", up)
	}
}

func valueOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// TestMemberConcurrentLinesStayWhole floods stdout from both the event and
// the result side at once: every line must decode (lineSink checks).
func TestMemberConcurrentLinesStayWhole(t *testing.T) {
	url := startSignalServer(t)
	alice := startCLIMember(t, true, memberArgs(url, "r3", "alice", "--state", `{"log":[]}`)...)
	alice.ready(t)
	const n = 100
	var input strings.Builder
	for i := range n {
		fmt.Fprintf(&input, `[{"op":"add","path":"/log/-","value":%d}]`+"\n", i)
	}
	alice.send(t, strings.TrimSuffix(input.String(), "\n"))
	alice.result(t, n)
	last := alice.stateAt(t, n)
	var want []int
	for i := range n {
		want = append(want, i)
	}
	if got := jsonOf(t, last["state"]); got != jsonOf(t, map[string]any{"log": want}) {
		t.Fatalf("final state %s", got)
	}
	results, updates := 0, 0
	for _, l := range alice.out.all() {
		switch l.event() {
		case "result":
			results++
		case "state-update":
			updates++
		}
	}
	if results != n || updates != n {
		t.Fatalf("%d results and %d state-updates, want %d each", results, updates, n)
	}
}

func TestMemberCreateJoinErrorsExitOne(t *testing.T) {
	url := startSignalServer(t)
	alice := startCLIMember(t, true, memberArgs(url, "taken", "alice")...)
	alice.ready(t)
	cases := []struct {
		name string
		args []string
		code string
	}{
		{"room exists", append([]string{"create"}, memberArgs(url, "taken", "bob")...), "room-exists"},
		{"room not found", append([]string{"join"}, memberArgs(url, "nowhere", "bob")...), "room-not-found"},
		{"duplicate participant", append([]string{"join"}, memberArgs(url, "taken", "alice")...), "refused"},
		{"password for a room without one", append([]string{"join"}, memberArgs(url, "taken", "bob", "--password", "pw")...), "wrong-password"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, stderr := newLineSink(), &testenv.LogBuffer{}
			if code := run(context.Background(), c.args, out, stderr); code != 1 {
				t.Fatalf("exit status %d, want 1; stderr: %s", code, stderr)
			}
			lines := out.all()
			if len(lines) != 1 || lines[0].event() != "error" || lines[0]["code"] != c.code || lines[0]["message"] == "" {
				t.Fatalf("stdout %v, want one error line with code %s", lines, c.code)
			}
			if msg := lines[0]["message"].(string); !strings.Contains(stderr.String(), msg) {
				t.Fatalf("stderr %q does not carry %q", stderr, msg)
			}
		})
	}
}

// A room created with --password admits a member whose password comes from
// $ROOMS_PASSWORD, and refuses another password.
func TestMemberPassword(t *testing.T) {
	url := startSignalServer(t)
	alice := startCLIMember(t, true, memberArgs(url, "guarded", "alice", "--password", "open sesame")...)
	alice.ready(t)
	out, stderr := newLineSink(), &testenv.LogBuffer{}
	if code := run(context.Background(), append([]string{"join"}, memberArgs(url, "guarded", "mallory", "--password", "guess")...), out, stderr); code != 1 {
		t.Fatalf("wrong password: exit status %d, want 1; stderr: %s", code, stderr)
	}
	if lines := out.all(); len(lines) != 1 || lines[0]["code"] != "wrong-password" {
		t.Fatalf("wrong password: stdout %v, want one error line with code wrong-password", lines)
	}
	t.Setenv("ROOMS_PASSWORD", "open sesame")
	bob := startCLIMember(t, false, memberArgs(url, "guarded", "bob")...)
	if peers := bob.ready(t)["peers"].([]any); len(peers) != 2 {
		t.Fatalf("bob sees %d members, want 2", len(peers))
	}
}

func TestMemberUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"create", "--id", "a"},
		{"join", "--room", "r"},
		{"join", "--room", "r", "--id", "a", "--state", "{}"},
		{"create", "--room", "r", "--id", "a", "--state", "{nope"},
		{"create", "--room", "r", "--id", "a", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q, want 2 and nothing on stdout (stderr %q)", args, code, stdout.String(), stderr.String())
		}
	}
}

func TestMemberLeaveOnEOF(t *testing.T) {
	url := startSignalServer(t)
	alice := startCLIMember(t, true, memberArgs(url, "r4", "alice", "--state", `{"n":0}`)...)
	alice.ready(t)
	bob := startCLIMember(t, false, memberArgs(url, "r4", "bob", "--leave-on-eof")...)
	bob.ready(t)
	bob.send(t, `[{"op":"replace","path":"/n","value":1}]`)
	bob.stdin.Close()
	if err := bob.wait(t); err != nil {
		t.Fatalf("bob after stdin ended: %v", err)
	}
	if res := bob.result(t, 1); res["ok"] != true {
		t.Fatalf("bob's line: %v", res)
	}
	alice.stateAt(t, 1)
	alice.out.waitFor(t, "bob's departure", func(l line) bool { return l.event() == "peer-leave" && l["peer"] == "bob" })
}

func TestMemberStoppedWhileJoiningExitsZero(t *testing.T) {
	url := startSignalServer(t)
	m := startCLIMember(t, false, memberArgs(url, "never-created", "bob")...)
	m.cancel() // SIGTERM before the knock is answered
	if err := m.wait(t); err != nil {
		t.Fatalf("stopped while joining: %v", err)
	}
	if lines := m.out.all(); len(lines) != 1 || lines[0].event() != "closed" {
		t.Fatalf("stdout %v, want just a closed line", lines)
	}
}

// FuzzParseInput: any stdin line is either a patch, or exactly one command,
// or an error; never a panic.
func FuzzParseInput(f *testing.F) {
	for _, seed := range []string{
		`[{"op":"add","path":"/x","value":1}]`, `[]`, `{"read":true}`, `{"peers":true}`,
		`{"send":{"a":[1,2]},"to":"bob"}`, `{"send":null}`, `{"read":true,"peers":true}`,
		`{"read":true}{"read":true}`, `{"op":"add"}`, `[{"op":"move","from":"/a","path":"/a/b"}]`,
		"", "   ", "nul", `[{"op":"test","path":"/~2","value":1}]`, "[\xff]", `{"read":"yes"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		in, err := parseInput(line)
		if err != nil {
			if in.patch != nil || in.cmd.Send != nil || in.cmd.Read || in.cmd.Peers {
				t.Fatalf("%q: error %v with a parsed input %+v", line, err, in)
			}
			return
		}
		kinds := 0
		for _, set := range []bool{in.patch != nil, in.cmd.Send != nil, in.cmd.Read, in.cmd.Peers} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			t.Fatalf("%q parsed as %+v: %d kinds, want 1", line, in, kinds)
		}
	})
}

// FuzzReadLine: readLine splits input into lines exactly as a split on
// "\n" does (without a final empty line, with "\r\n" endings trimmed), and
// reports a too-long line as an error instead of returning part of it.
func FuzzReadLine(f *testing.F) {
	for _, seed := range []string{"", "a\nb\n", "a\r\nb", "\n\n", strings.Repeat("x", 40) + "\nshort\n", "\r\r\n"} {
		f.Add([]byte(seed))
	}
	const limit = 24
	f.Fuzz(func(t *testing.T, data []byte) {
		want := strings.Split(string(data), "\n")
		if want[len(want)-1] == "" {
			want = want[:len(want)-1]
		}
		br := bufio.NewReaderSize(bytes.NewReader(data), 16) // smaller than limit: lines span buffers
		for i, w := range want {
			w = strings.TrimSuffix(w, "\r")
			got, err := readLine(br, limit)
			switch {
			case len(w) > limit:
				if !errors.Is(err, errBadLine) {
					t.Fatalf("line %d (%d bytes): %q, %v; want errBadLine", i, len(w), got, err)
				}
			case err != nil || string(got) != w:
				t.Fatalf("line %d: %q, %v; want %q", i, got, err, w)
			}
		}
		if got, err := readLine(br, limit); !errors.Is(err, io.EOF) {
			t.Fatalf("after the last line: %q, %v; want io.EOF", got, err)
		}
	})
}
