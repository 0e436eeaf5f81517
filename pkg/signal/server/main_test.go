package server

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain doubles as the benchmark's server process (see benchServerEnv)
// and fails the run if tests leave goroutines behind.
func TestMain(m *testing.M) {
	raiseFileLimit()
	if os.Getenv(benchServerEnv) != "" {
		os.Exit(runBenchServer())
	}
	code := m.Run()
	benchFleet.stop()
	if code == 0 && !leakFree() {
		code = 1
	}
	os.Exit(code)
}

// leakFree waits for the goroutines the tests started (anything running
// code of this module, websocket, redis or net/http) to end, and dumps the
// survivors if some do not.
func leakFree() bool {
	deadline := time.Now().Add(10 * time.Second)
	for {
		leaked := leakedGoroutines()
		if len(leaked) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", strings.Join(leaked, "\n\n"))
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func leakedGoroutines() []string {
	buf := make([]byte, 1<<20)
	var leaked []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "leakedGoroutines") {
			continue
		}
		for _, mark := range []string{"rooms-dev/rooms", "coder/websocket", "redis/go-redis", "net/http."} {
			if strings.Contains(g, mark) {
				leaked = append(leaked, g)
				break
			}
		}
	}
	return leaked
}

// raiseFileLimit lifts RLIMIT_NOFILE so 10,000 sockets fit (root may raise
// the hard limit too; otherwise the soft one goes up to the hard one).
func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return
	}
	want := syscall.Rlimit{Cur: 65536, Max: max(lim.Max, 65536)}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}
