// Package testenv starts the real outside software the tests run against
// (the npm PeerJS server) and finds the repository's files. Test code only.
package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// RepoRoot walks up from the working directory to the directory holding
// go.mod (and package.json, node_modules).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// StartNPMPeer runs the real npm `peer` server (node_modules/peer, a
// devDependency of the repository) on a free 127.0.0.1 port, with extra
// command-line flags, and returns its base URL and a stop function. Missing
// node or the package is an error that says what to install, never a skip.
func StartNPMPeer(flags ...string) (url string, stop func(), err error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", nil, fmt.Errorf("node is required for the npm peer server tests: %w", err)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(root, "node_modules", "peer", "dist", "bin", "peerjs.js")
	if _, err := os.Stat(bin); err != nil {
		return "", nil, fmt.Errorf("npm package peer missing (run npm ci in %s): %w", root, err)
	}
	port, err := FreePort()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(node, append([]string{bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port)}, flags...)...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop = func() { _ = cmd.Process.Kill(); <-exited }
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := AwaitListening(addr, exited, 15*time.Second); err != nil {
		stop()
		return "", nil, fmt.Errorf("npm peer server on %s: %w; output:\n%s", addr, err, out.String())
	}
	return "http://" + addr + "/", stop, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// AwaitListening polls addr until it accepts connections: there is no event
// for "another process has bound its port". It fails when exited is closed
// first or after timeout.
func AwaitListening(addr string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening after %v", timeout)
		}
		select {
		case <-exited:
			return errors.New("exited before listening")
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// BuildWasmTests compiles the tests of the package in the working directory
// for GOOS=js GOARCH=wasm into dir, so that a native test can run them under
// node: it returns Go's go_js_wasm_exec runner and the test binary to give
// it (with -test.run and the like).
func BuildWasmTests(dir string) (runner, bin string, err error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", "", fmt.Errorf("the go command is required to build wasm tests: %w", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", "", fmt.Errorf("node is required to run wasm tests: %w", err)
	}
	goroot, err := exec.Command(goBin, "env", "GOROOT").Output()
	if err != nil {
		return "", "", fmt.Errorf("go env GOROOT: %w", err)
	}
	runner = filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "go_js_wasm_exec")
	if _, err := os.Stat(runner); err != nil {
		return "", "", fmt.Errorf("go_js_wasm_exec missing from the Go distribution: %w", err)
	}
	bin = filepath.Join(dir, "wasm.test")
	build := exec.Command(goBin, "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("build wasm tests: %w\n%s", err, out)
	}
	return runner, bin, nil
}

// RunWasmTests runs the tests matching pattern in bin, built by
// BuildWasmTests, under runner, with env added to this process's
// environment. It fails unless the run exits cleanly and mustPass is among
// the tests that passed: a pattern matching nothing would pass otherwise.
func RunWasmTests(runner, bin, pattern, mustPass string, env ...string) (out []byte, err error) {
	run := exec.Command(runner, bin, "-test.run", pattern, "-test.v")
	run.Env = append(os.Environ(), env...)
	out, err = run.CombinedOutput()
	if err == nil && !strings.Contains(string(out), "--- PASS: "+mustPass) {
		err = fmt.Errorf("%s did not pass", mustPass)
	}
	return out, err
}
