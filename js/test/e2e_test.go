//go:build !js

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rooms-dev/rooms/pkg/signal/server"
)

// env is what TestMain sets up for every test.
var env struct {
	root   string // repository root
	dist   string // a fresh build of js/dist
	base   string // http://127.0.0.1:port
	node   string
	chrome string
}

func TestMain(m *testing.M) {
	stop, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func setup() (stop func(), err error) {
	env.root, err = filepath.Abs("../..")
	if err != nil {
		return nil, err
	}
	if env.node, err = exec.LookPath("node"); err != nil {
		return nil, fmt.Errorf("node is needed for the browser tests (apt-get install nodejs): %w", err)
	}
	env.chrome = os.Getenv("CHROMIUM")
	if env.chrome == "" {
		env.chrome = "/usr/bin/chromium"
	}
	if _, err := os.Stat(env.chrome); err != nil {
		return nil, fmt.Errorf("chromium is needed for the browser tests (apt-get install chromium, or set CHROMIUM): %w", err)
	}
	if _, err := os.Stat(filepath.Join(env.root, "node_modules", "playwright-core")); err != nil {
		return nil, fmt.Errorf("npm devDependencies missing (run npm ci at the repository root): %w", err)
	}
	env.dist, err = os.MkdirTemp("", "rooms-dist-")
	if err != nil {
		return nil, err
	}
	if err := buildDist(env.dist); err != nil {
		os.RemoveAll(env.dist)
		return nil, err
	}
	closeServer, err := serve()
	if err != nil {
		os.RemoveAll(env.dist)
		return nil, err
	}
	return func() { closeServer(); os.RemoveAll(env.dist) }, nil
}

// buildDist builds what `make dist` builds (without the compressed copies)
// into dir, from the current sources, plus the React test page.
func buildDist(dir string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	steps := []*exec.Cmd{
		wasmBuild(goBin, filepath.Join(dir, "rooms.wasm"), "./wasm", "-ldflags=-s -w"),
		exec.Command(env.node, "js/build.mjs"),
		exec.Command(env.node, "js/test/build-page.mjs", dir),
	}
	steps[1].Env = append(os.Environ(), "ROOMS_DIST="+dir, "GO="+goBin)
	return runSteps(steps...)
}

// wasmBuild is the command that builds Go package pkg for the browser
// (GOOS=js) into out.
func wasmBuild(goBin, out, pkg string, flags ...string) *exec.Cmd {
	args := append(append([]string{"build"}, flags...), "-o", out, pkg)
	c := exec.Command(goBin, args...)
	c.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	return c
}

// runSteps runs commands in the repository root, in order, stopping at the
// first that fails.
func runSteps(steps ...*exec.Cmd) error {
	for _, c := range steps {
		c.Dir = env.root
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", c.Args, err, out)
		}
	}
	return nil
}

// serve starts the test web server on loopback: the dist, the test pages
// and our signalling server.
func serve() (stop func(), err error) {
	_ = mime.AddExtensionType(".wasm", "application/wasm")
	_ = mime.AddExtensionType(".mjs", "text/javascript")
	sig, err := server.New(server.Config{ExpireTimeout: time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/dist/", http.StripPrefix("/dist/", noCache(http.FileServer(http.Dir(env.dist)))))
	mux.Handle("/pages/", http.StripPrefix("/pages/", noCache(http.FileServer(http.Dir(filepath.Join(env.root, "js", "test", "pages"))))))
	mux.Handle("/signal/", http.StripPrefix("/signal", sig))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sig.Close()
		return nil, err
	}
	srv := server.NewHTTPServer("", mux)
	go srv.Serve(ln)
	env.base = "http://" + ln.Addr().String()
	return func() {
		sig.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// runScenario runs one node driver scenario and returns its output.
func runScenario(name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.node, filepath.Join(env.root, "js", "test", "e2e.mjs"), name, env.base)
	cmd.Dir = env.root
	cmd.Env = append(os.Environ(), "CHROMIUM="+env.chrome)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// scenario runs one node driver scenario and fails t with its output.
// Scenarios run two at a time (go test's -parallel defaults to GOMAXPROCS):
// they mostly wait on timers and the network, not the CPU.
func scenario(t *testing.T, name string) {
	t.Helper()
	t.Parallel()
	start := time.Now()
	out, err := runScenario(name)
	if err != nil {
		t.Fatalf("scenario %s: %v after %v\n%s", name, err, time.Since(start).Round(time.Millisecond), out)
	}
	t.Logf("scenario %s passed in %v", name, time.Since(start).Round(time.Millisecond))
	if testing.Verbose() && out != "" {
		t.Logf("output:\n%s", out)
	}
}

// TestScriptTag: the script-tag build; two pages form a room and see the
// same history; typed errors (bad use, room exists, room not found,
// conflict, closed); ephemeral messages; leave.
func TestScriptTag(t *testing.T) { scenario(t, "script") }

// TestESModule: the ES module build loads rooms.wasm from next to itself;
// an async admit hook refuses a newcomer (RefusedError with its reason);
// reducers registered on both pages (one before ready); reducer errors.
func TestESModule(t *testing.T) { scenario(t, "esm") }

// TestFivePagesRace: five pages converge on one history; of five racing
// conditional updates exactly one wins, the rest get ConflictError.
func TestFivePagesRace(t *testing.T) { scenario(t, "five") }

// TestDoormanFailover: the doorman's page closes; the others elect a new
// doorman, which admits a newcomer by the room id.
func TestDoormanFailover(t *testing.T) { scenario(t, "failover") }

// TestMedia: two pages send each other their (fake) camera: one added
// before the other joined, one after the link was up; room.raft.
func TestMedia(t *testing.T) { scenario(t, "media") }

// TestFrozenDoorman: the doorman's page is frozen (JS paused over CDP);
// the room elects another doorman, admits a newcomer, and the page catches
// up when it thaws.
func TestFrozenDoorman(t *testing.T) { scenario(t, "freeze") }

// TestHiddenDoorman: a doorman whose page becomes hidden hands over.
func TestHiddenDoorman(t *testing.T) { scenario(t, "hidden") }

// TestPassword: a password room in the browser: right, wrong and missing
// passwords, and a page doorman that checks them after a hand-over.
func TestPassword(t *testing.T) { scenario(t, "password") }

// TestReactHooks: useRoom and useRoomState re-render a React page on
// changes, and a component whose selected part is unchanged does not.
func TestReactHooks(t *testing.T) { scenario(t, "react") }

// TestTypes type-checks a usage example against index.d.ts and react.d.ts;
// its @ts-expect-error lines make sure misuse is a type error.
func TestTypes(t *testing.T) {
	cmd := exec.Command(env.node, filepath.Join(env.root, "node_modules", "typescript", "bin", "tsc"),
		"--noEmit", "-p", filepath.Join(env.root, "js", "test", "types"))
	cmd.Dir = env.root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tsc --noEmit: %v\n%s", err, out)
	}
}

// TestImmutable runs the node unit tests of the shim's immutable JSON
// Patch and diff (js/test/immutable.test.mjs).
func TestImmutable(t *testing.T) {
	cmd := exec.Command(env.node, "--test", filepath.Join(env.root, "js", "test", "immutable.test.mjs"))
	cmd.Dir = env.root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
}
