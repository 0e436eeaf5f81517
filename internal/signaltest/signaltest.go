// Package signaltest runs our signalling server for tests. Test code only.
package signaltest

import (
	"net"
	"net/http"
	"testing"

	"github.com/rooms-dev/rooms/pkg/signal/server"
)

// Start runs a signalling server with cfg on a 127.0.0.1 port for the rest
// of the test and returns its base URL.
func Start(t testing.TB, cfg server.Config) string {
	t.Helper()
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	return "http://" + ln.Addr().String() + "/"
}
