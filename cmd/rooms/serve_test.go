package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/rooms-dev/rooms/pkg/signal/server"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestServeContentTypesAndPrecompression(t *testing.T) {
	web, dist := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(web, "index.html"), "<h1>demos</h1>")
	writeFile(t, filepath.Join(web, "chat", "index.html"), "<h1>chat</h1>")
	writeFile(t, filepath.Join(dist, "rooms.wasm"), "raw-wasm")
	writeFile(t, filepath.Join(dist, "rooms.wasm.br"), "brotli-wasm")
	writeFile(t, filepath.Join(dist, "rooms.wasm.gz"), "gzip-wasm")
	writeFile(t, filepath.Join(dist, "index.mjs"), "export {}")
	sig, err := server.New(server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sig.Close()
	srv := httptest.NewServer(siteHandler(web, dist, sig))
	defer srv.Close()

	for _, tc := range []struct {
		path, accept, wantBody, wantType, wantEncoding string
	}{
		{"/", "", "<h1>demos</h1>", "text/html; charset=utf-8", ""},
		{"/chat/", "br", "<h1>chat</h1>", "text/html; charset=utf-8", ""},
		{"/dist/rooms.wasm", "gzip, deflate, br", "brotli-wasm", "application/wasm", "br"},
		{"/dist/rooms.wasm", "gzip", "gzip-wasm", "application/wasm", "gzip"},
		{"/dist/rooms.wasm", "br;q=0, gzip", "gzip-wasm", "application/wasm", "gzip"},
		{"/dist/rooms.wasm", "", "raw-wasm", "application/wasm", ""},
		{"/dist/index.mjs", "", "export {}", "text/javascript; charset=utf-8", ""},
	} {
		req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
		if tc.accept != "" {
			req.Header.Set("Accept-Encoding", tc.accept)
		}
		// A Transport that does not add or undo compression by itself.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != tc.wantBody {
			t.Errorf("%s (%q): %d %q, want %q", tc.path, tc.accept, resp.StatusCode, body, tc.wantBody)
		}
		if got := resp.Header.Get("Content-Type"); got != tc.wantType {
			t.Errorf("%s: Content-Type %q, want %q", tc.path, got, tc.wantType)
		}
		if got := resp.Header.Get("Content-Encoding"); got != tc.wantEncoding {
			t.Errorf("%s (%q): Content-Encoding %q, want %q", tc.path, tc.accept, got, tc.wantEncoding)
		}
		if resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: Cache-Control %q", tc.path, resp.Header.Get("Cache-Control"))
		}
	}
	for _, missing := range []string{"/nope.html", "/dist/../../etc/passwd", "/dist/"} {
		resp, err := http.Get(srv.URL + missing)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", missing, resp.StatusCode)
		}
	}
	// The signalling server answers under /signal, as the demos expect.
	resp, err := http.Get(srv.URL + "/signal/peerjs/id")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(id) == 0 {
		t.Fatalf("GET /signal/peerjs/id: %d %q", resp.StatusCode, id)
	}
}

func TestServeRefusesMissingDirectories(t *testing.T) {
	err := runServe(t.Context(), []string{"--dir", filepath.Join(t.TempDir(), "missing"), "--addr", "127.0.0.1:0"}, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("serve started without its directory")
	}
}
