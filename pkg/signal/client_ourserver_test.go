//go:build !js

package signal_test

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/rooms-dev/rooms/pkg/signal/server"
)

// Our server joins the backend table, so every behavioural test of the
// client also checks that it behaves like npm peer.
func init() {
	backends = append(backends, &backend{name: "rooms-server", start: startOurServer})
}

func startOurServer() (string, func(), error) {
	srv, err := server.New(server.Config{
		ExpireTimeout: testExpireTimeout,
		AliveTimeout:  testAliveTimeout,
		// The client benchmark sends faster than the default rate limit.
		MessagesPerSecond: 1e6,
		MessageBurst:      1e6,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return "", nil, err
	}
	hs := &http.Server{Handler: srv}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	stop := func() {
		srv.Close()
		hs.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}
	return "http://" + ln.Addr().String() + "/", stop, nil
}
