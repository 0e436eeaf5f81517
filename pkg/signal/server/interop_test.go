package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// repoRoot is where package.json and node_modules live.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		t.Fatalf("repository root not found at %s: %v", dir, err)
	}
	return dir
}

// TestPeerJSBrowserInterop runs the real peerjs client in two headless
// Chromium pages against our server (mounted under /signal/) and checks
// that they open a DataConnection and exchange a message each way: once
// through one instance, once with each page on its own instance over Redis.
func TestPeerJSBrowserInterop(t *testing.T) {
	root := repoRoot(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found: %v", err)
	}
	for _, need := range []string{"/usr/bin/chromium", filepath.Join(root, "node_modules/playwright-core"), filepath.Join(root, "node_modules/peerjs/dist/peerjs.min.js")} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("%s missing (apt-get install chromium; npm ci): %v", need, err)
		}
	}
	t.Run("one-instance", func(t *testing.T) {
		a, rec := interopServer(t, root, Config{})
		runInterop(t, node, rec, a)
	})
	t.Run("two-instances-redis", func(t *testing.T) {
		url := startRedis(t)
		a, _ := interopServer(t, root, Config{RedisURL: url})
		b, rec := interopServer(t, root, Config{RedisURL: url})
		runInterop(t, node, rec, a, b)
	})
}

// interopServer serves the test page, peerjs and our handler under /signal/.
func interopServer(t *testing.T, root string, cfg Config) (string, *logRecorder) {
	rec := newLogRecorder()
	cfg.Logger = slogNew(rec)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/signal/", http.StripPrefix("/signal", s))
	mux.HandleFunc("/page.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><meta charset="utf-8"><script src="/peerjs.min.js"></script>`))
	})
	mux.HandleFunc("/peerjs.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(root, "node_modules/peerjs/dist/peerjs.min.js"))
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		s.Close()
		hs.Close()
	})
	return hs.URL, rec
}

// runInterop runs the driver; page a signals through urls[0], page b
// through the last URL, whose log recorder is rec.
func runInterop(t *testing.T, node string, rec *logRecorder, urls ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"testdata/peerjs_interop.mjs", urls[0], "/signal/"}, urls[1:]...)...)
	// Kill Chromium with node if the driver hangs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("driver failed: %v\nstdout: %s\nstderr: %s", err, out, stderr.String())
	}
	var res struct {
		OK                        bool
		AID, BID, Reply, Received string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("driver output %q: %v", out, err)
	}
	if !res.OK || res.AID != "interop-a" || res.Received != "hello from "+res.BID || res.Reply != "world from interop-a" {
		t.Fatalf("exchange failed: %+v\nstderr: %s", res, stderr.String())
	}
	rec.waitFor(t, "id registered id="+res.BID)
}
