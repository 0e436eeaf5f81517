package server

import (
	"net/http"
	"time"
)

// NewHTTPServer returns an http.Server for h with the timeouts a public
// signalling server needs: a client that does not finish its request
// headers within 10 s is cut (slowloris), idle keep-alive connections close
// after 2 minutes, and headers are capped at 16 KiB. WebSockets are not
// affected by these once upgraded; the Server's own AliveTimeout covers
// them.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}
