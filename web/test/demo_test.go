//go:build !js

package demotest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// env is what TestMain sets up for every test.
var env struct {
	root   string // repository root
	base   string // http://127.0.0.1:port of rooms serve
	shots  string // where screenshots go
	node   string
	chrome string
}

func TestMain(m *testing.M) {
	stop, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo test setup:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func setup() (stop func(), err error) {
	if env.root, err = filepath.Abs("../.."); err != nil {
		return nil, err
	}
	if err := findTools(); err != nil {
		return nil, err
	}
	env.shots = filepath.Join(env.root, "test-artifacts", "demo")
	tmp, err := os.MkdirTemp("", "rooms-demo-")
	if err != nil {
		return nil, err
	}
	if err := build(tmp); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	stopServer, err := startServer(filepath.Join(tmp, "rooms"), filepath.Join(tmp, "dist"))
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return func() { stopServer(); os.RemoveAll(tmp) }, nil
}

// findTools fails with what to install when node, chromium or the npm
// devDependencies are missing.
func findTools() (err error) {
	if env.node, err = exec.LookPath("node"); err != nil {
		return fmt.Errorf("node is needed for the demo tests (apt-get install nodejs): %w", err)
	}
	env.chrome = os.Getenv("CHROMIUM")
	if env.chrome == "" {
		env.chrome = "/usr/bin/chromium"
	}
	if _, err := os.Stat(env.chrome); err != nil {
		return fmt.Errorf("chromium is needed for the demo tests (apt-get install chromium, or set CHROMIUM): %w", err)
	}
	if _, err := os.Stat(filepath.Join(env.root, "node_modules", "playwright-core")); err != nil {
		return fmt.Errorf("npm devDependencies missing (run npm ci at the repository root): %w", err)
	}
	return nil
}

// build makes, from the current sources, what make dist-dev makes (into
// dir/dist), the React demo's bundle (web/react/bundle.js, as make demo
// does, from dir/dist's react.mjs) and the rooms command (dir/rooms).
func build(dir string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	dist := filepath.Join(dir, "dist")
	steps := []*exec.Cmd{
		exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dist, "rooms.wasm"), "./wasm"),
		exec.Command(env.node, "js/build.mjs"),
		exec.Command(env.node, "web/react/build.mjs"),
		exec.Command(goBin, "build", "-o", filepath.Join(dir, "rooms"), "./cmd/rooms"),
	}
	steps[0].Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	steps[1].Env = append(os.Environ(), "ROOMS_DIST="+dist, "GO="+goBin)
	steps[2].Env = append(os.Environ(), "ROOMS_DIST="+dist)
	for _, c := range steps {
		c.Dir = env.root
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", c.Args, err, out)
		}
	}
	return nil
}

// startServer runs `rooms serve` on a free loopback port and reads the URL
// it prints; stop interrupts it (Ctrl-C) and waits for it to exit.
func startServer(bin, dist string) (stop func(), err error) {
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--dir", filepath.Join(env.root, "web"), "--dist", dist)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("rooms serve: %w", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("rooms serve printed no URL: %w\n%s", err, logs.String())
	}
	env.base, err = parseURL(line)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}
	go io.Copy(io.Discard, out)
	return func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}, nil
}

// parseURL finds http://host:port in rooms serve's banner.
func parseURL(line string) (string, error) {
	for _, f := range strings.Fields(line) {
		if strings.HasPrefix(f, "http://") {
			return strings.TrimSuffix(f, "/"), nil
		}
	}
	return "", fmt.Errorf("no URL in rooms serve's banner %q", line)
}

// scenario runs one scenario of demo.mjs and fails t with its output.
func scenario(t *testing.T, name string) {
	t.Helper()
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.node, filepath.Join(env.root, "web", "test", "demo.mjs"), name, env.base, env.shots)
	cmd.Dir = env.root
	cmd.Env = append(os.Environ(), "CHROMIUM="+env.chrome)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scenario %s: %v after %v\n%s", name, err, time.Since(start).Round(time.Millisecond), out)
	}
	t.Logf("scenario %s passed in %v; screenshots in %s", name, time.Since(start).Round(time.Millisecond), env.shots)
}

// TestLanding: the landing page makes a random room id and links every
// demo (and the link to share) to it.
func TestLanding(t *testing.T) { scenario(t, "landing") }

// TestChat: two people enter a chat room (the first creates it); the typing
// indicator travels as an ephemeral message without changing the state; a
// message from each shows on both pages in the same order; presence and the
// inspector list both; a leave shrinks the presence list.
func TestChat(t *testing.T) { scenario(t, "chat") }

// TestTicTacToe: X and O take their seats; moves out of turn and into a
// taken cell are refused by the room (ConflictError shown on the page); a
// late spectator sees the same board and cannot move.
func TestTicTacToe(t *testing.T) { scenario(t, "tictactoe") }

// TestWhiteboard: one person draws with the mouse; the other sees the live
// cursor (an ephemeral message) and then the committed stroke, in the same
// state, drawn on the canvas. The inspector folds away to its title and back.
func TestWhiteboard(t *testing.T) { scenario(t, "whiteboard") }

// TestVideo: two people join a call with Chromium's fake camera and
// microphone; each sees the other's video tile playing and its own muted;
// mute and camera-off show on the other's page (from the shared state); a
// leave removes the tile.
func TestVideo(t *testing.T) { scenario(t, "video") }

// TestReact: the React poll (useRoom, useRoomState; bundled by esbuild) in
// two pages: an option added on one and votes cast on each re-render the
// other, which shows the same counts.
func TestReact(t *testing.T) { scenario(t, "react") }
