package server_test

import (
	"log"
	"net/http"

	"github.com/rooms-dev/rooms/pkg/signal/server"
)

// Mount the signalling server under /signal/ of your own server. PeerJS
// clients then use {path: '/signal/'}.
func ExampleNew() {
	sig, err := server.New(server.Config{
		AllowOrigins: []string{"app.example.com"},
		AllowRooms:   []string{"lobby"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer sig.Close()
	mux := http.NewServeMux()
	mux.Handle("/signal/", http.StripPrefix("/signal", sig))
	mux.Handle("/", http.FileServer(http.Dir("web")))
	hs := server.NewHTTPServer("127.0.0.1:9000", mux)
	_ = hs // hs.ListenAndServe()
}
