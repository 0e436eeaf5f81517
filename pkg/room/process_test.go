package room

// Members as real processes: the `rooms create` / `rooms join` command
// (cmd/rooms), driven through its JSON-lines protocol, killed with SIGKILL
// and SIGTERM like a user's bots would be.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildRooms builds the rooms command into a temporary directory.
func buildRooms(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "rooms")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/rooms-dev/rooms/cmd/rooms").CombinedOutput()
	if err != nil {
		t.Fatalf("go build cmd/rooms: %v\n%s", err, out)
	}
	return bin
}

// outLine is one decoded stdout line of a member process.
type outLine map[string]any

func (l outLine) event() string { s, _ := l["event"].(string); return s }

// proc is one member process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}
	sent   int // stdin lines sent so far

	mu     sync.Mutex
	buf    bytes.Buffer
	lines  []outLine
	bad    []string
	stderr bytes.Buffer
	wake   chan struct{}
}

// startProc runs `rooms <verb> ... --id name` against signalling server url.
func startProc(t *testing.T, bin, url, verb, roomID, name string, extra ...string) *proc {
	t.Helper()
	args := []string{verb, "--signal", url, "--app", "proc-test", "--room", roomID, "--id", name,
		"--loopback", "--peer-timeout", "2s", "--timeout", "20s"}
	if os.Getenv("ROOMS_DEBUG") != "" {
		args = append(args, "--debug")
	}
	p := &proc{name: name, cmd: exec.Command(bin, append(args, extra...)...), exited: make(chan struct{}), wake: make(chan struct{}, 1)}
	p.cmd.Stdout, p.cmd.Stderr = stdoutOf{p}, stderrOf{p}
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
		p.signalWake()
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() || os.Getenv("ROOMS_DEBUG") != "" {
			p.mu.Lock()
			t.Logf("%s stderr:\n%s", name, p.stderr.String())
			p.mu.Unlock()
		}
	})
	return p
}

type stdoutOf struct{ p *proc }

// Write splits stdout into lines; every line must be one JSON object with
// an "event" member.
func (w stdoutOf) Write(b []byte) (int, error) {
	p := w.p
	p.mu.Lock()
	p.buf.Write(b)
	for {
		i := bytes.IndexByte(p.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		raw := string(p.buf.Next(i + 1))
		var l outLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil || l.event() == "" {
			p.bad = append(p.bad, raw)
		} else {
			p.lines = append(p.lines, l)
		}
	}
	p.mu.Unlock()
	p.signalWake()
	return len(b), nil
}

type stderrOf struct{ p *proc }

func (w stderrOf) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

func (p *proc) signalWake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// waitFor returns the first stdout line satisfying ok. It fails on a
// malformed line, on timeout, and when the process exits without one.
func (p *proc) waitFor(t *testing.T, what string, ok func(outLine) bool) outLine {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		p.mu.Lock()
		bad := p.bad
		for _, l := range p.lines {
			if ok(l) {
				p.mu.Unlock()
				return l
			}
		}
		lines := fmt.Sprint(p.lines)
		p.mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("%s: malformed stdout lines %q", p.name, bad)
		}
		select {
		case <-p.wake:
			continue
		case <-deadline:
			t.Fatalf("%s: timed out waiting for %s; stdout: %s", p.name, what, lines)
		case <-p.exited:
		}
		// Exited: one last look at what it wrote.
		p.mu.Lock()
		for _, l := range p.lines {
			if ok(l) {
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		t.Fatalf("%s exited (%v) without %s; stdout: %s", p.name, p.cmd.ProcessState, what, lines)
	}
}

func (p *proc) ready(t *testing.T) outLine {
	t.Helper()
	return p.waitFor(t, "ready", func(l outLine) bool { return l.event() == "ready" })
}

// do sends one stdin line and waits for its result line.
func (p *proc) do(t *testing.T, line string) outLine {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("%s: write stdin: %v", p.name, err)
	}
	p.sent++
	n := float64(p.sent)
	return p.waitFor(t, fmt.Sprintf("result of line %d", p.sent), func(l outLine) bool {
		return l.event() == "result" && l["line"] == n
	})
}

// update proposes a patch and waits for its successful result.
func (p *proc) update(t *testing.T, patch string) {
	t.Helper()
	if res := p.do(t, patch); res["ok"] != true {
		t.Fatalf("%s: %s: %v", p.name, patch, res)
	}
}

// awaitVoters polls the member list until n members are voters. A newcomer
// is promoted from learner once caught up, and no event tells when.
func (p *proc) awaitVoters(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		res := p.do(t, `{"peers":true}`)
		voters := 0
		peers, _ := res["peers"].([]any)
		for _, pi := range peers {
			if pi.(map[string]any)["voter"] == true {
				voters++
			}
		}
		if voters == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d voters, want %d: %v", p.name, voters, n, res)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stateAt waits for the state-update line that reports version v and
// returns its state, re-encoded canonically.
func (p *proc) stateAt(t *testing.T, v int) string {
	t.Helper()
	l := p.waitFor(t, fmt.Sprintf("state-update to version %d", v), func(l outLine) bool {
		return l.event() == "state-update" && l["version"] == float64(v)
	})
	b, _ := json.Marshal(l["state"])
	return string(b)
}

// checkVersions verifies that p reported every version after its ready line
// exactly once and in order, up to last.
func (p *proc) checkVersions(t *testing.T, last int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	next := -1
	for _, l := range p.lines {
		switch l.event() {
		case "ready":
			next = int(l["version"].(float64)) + 1
		case "state-update":
			if v := int(l["version"].(float64)); v != next {
				t.Fatalf("%s: state-update to version %d, want %d", p.name, v, next)
			}
			next++
		}
	}
	if next != last+1 {
		t.Fatalf("%s: reported versions up to %d, want %d", p.name, next-1, last)
	}
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: %v: %v", p.name, sig, err)
	}
}

// exitCode waits for the process to end and returns its exit status.
func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(testTimeout):
		t.Fatalf("%s did not exit", p.name)
		return -1
	}
}

func isDoormanChangeTo(names ...string) func(outLine) bool {
	return func(l outLine) bool {
		if l.event() != "doorman-change" {
			return false
		}
		for _, n := range names {
			if l["doorman"] == n {
				return true
			}
		}
		return false
	}
}

func isPeerLeave(name string) func(outLine) bool {
	return func(l outLine) bool { return l.event() == "peer-leave" && l["peer"] == name }
}

func TestProcessMembers(t *testing.T) {
	bin := buildRooms(t)
	url := startSignal(t)

	t.Run("three converge", func(t *testing.T) {
		procs := []*proc{startProc(t, bin, url, "create", "p-converge", "p1", "--state", `{"by":{}}`)}
		procs[0].ready(t)
		for _, name := range []string{"p2", "p3"} {
			p := startProc(t, bin, url, "join", "p-converge", name)
			p.ready(t)
			procs = append(procs, p)
		}
		for i, p := range procs {
			p.update(t, fmt.Sprintf(`[{"op":"add","path":"/by/%s","value":%d}]`, p.name, i+1))
		}
		want := `{"by":{"p1":1,"p2":2,"p3":3}}`
		for _, p := range procs {
			if got := p.stateAt(t, 3); got != want {
				t.Errorf("%s: state %s, want %s", p.name, got, want)
			}
			p.checkVersions(t, 3)
		}
		// Same version, same state, on every member.
		for v := 2; v <= 3; v++ {
			if a, b := procs[0].stateAt(t, v), procs[2].stateAt(t, v); a != b {
				t.Errorf("version %d: p1 has %s, p3 has %s", v, a, b)
			}
		}
	})

	t.Run("kill -9 of the doorman", func(t *testing.T) {
		p1 := startProc(t, bin, url, "create", "p-kill", "p1", "--state", `{"n":0}`)
		p1.ready(t)
		p2 := startProc(t, bin, url, "join", "p-kill", "p2")
		p2.ready(t)
		p3 := startProc(t, bin, url, "join", "p-kill", "p3")
		p3.ready(t)
		p2.update(t, `[{"op":"replace","path":"/n","value":1}]`)
		// With p3 still a learner, p1 and p2 would be the only voters and
		// p1's death would leave no quorum (see DESIGN.md's recovery).
		p1.awaitVoters(t, 3)
		p1.signal(t, syscall.SIGKILL)
		for _, p := range []*proc{p2, p3} {
			e := p.waitFor(t, "a new doorman", isDoormanChangeTo("p2", "p3"))
			t.Logf("%s sees doorman %s", p.name, e["doorman"])
		}
		p4 := startProc(t, bin, url, "join", "p-kill", "p4")
		if ready := p4.ready(t); ready["doorman"] != "p2" && ready["doorman"] != "p3" {
			t.Fatalf("p4 admitted with doorman %v", ready["doorman"])
		}
		p2.waitFor(t, "p1's removal", isPeerLeave("p1"))
		p4.update(t, `[{"op":"replace","path":"/n","value":4}]`)
		p3.update(t, `[{"op":"add","path":"/p3","value":true}]`)
		for _, p := range []*proc{p2, p3, p4} {
			if got := p.stateAt(t, 3); got != `{"n":4,"p3":true}` {
				t.Errorf("%s: state %s", p.name, got)
			}
		}
	})

	t.Run("SIGTERM of the doorman", func(t *testing.T) {
		p1 := startProc(t, bin, url, "create", "p-term", "p1", "--state", `{"n":0}`)
		p1.ready(t)
		p2 := startProc(t, bin, url, "join", "p-term", "p2")
		p2.ready(t)
		p3 := startProc(t, bin, url, "join", "p-term", "p3")
		p3.ready(t)
		p1.awaitVoters(t, 3)
		p1.signal(t, syscall.SIGTERM)
		if code := p1.exitCode(t); code != 0 {
			t.Fatalf("p1 exited %d after SIGTERM, want 0", code)
		}
		last := p1.waitFor(t, "closed", func(l outLine) bool { return l.event() == "closed" })
		if last["error"] != nil {
			t.Fatalf("p1 closed with %v", last)
		}
		for _, p := range []*proc{p2, p3} {
			p.waitFor(t, "p1's departure", isPeerLeave("p1"))
			p.waitFor(t, "a new doorman", isDoormanChangeTo("p2", "p3"))
		}
		p3.update(t, `[{"op":"replace","path":"/n","value":3}]`)
		if got := p2.stateAt(t, 1); got != `{"n":3}` {
			t.Errorf("p2: state %s", got)
		}
	})
}
