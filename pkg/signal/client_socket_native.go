//go:build !js

package signal

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
)

// HTTPClient is the type of ClientConfig.HTTPClient. Natively it is an
// *http.Client: ids are fetched and WebSockets opened through it (proxies,
// TLS configuration, timeouts); nil means http.DefaultClient. The browser
// build declares it as a placeholder instead, so that it links no net/http.
type HTTPClient = *http.Client

// coderSocket is a socket over coder/websocket.
type coderSocket struct {
	conn *websocket.Conn
}

func dialSocket(ctx context.Context, url string, hc HTTPClient) (socket, error) {
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(MaxFrameSize)
	return coderSocket{conn: conn}, nil
}

func (s coderSocket) read(ctx context.Context) ([]byte, error) {
	_, data, err := s.conn.Read(ctx)
	return data, err
}

func (s coderSocket) write(ctx context.Context, data []byte) error {
	return s.conn.Write(ctx, websocket.MessageText, data)
}

func (s coderSocket) close() error {
	return s.conn.Close(websocket.StatusNormalClosure, "")
}

func (s coderSocket) closeNow() { _ = s.conn.CloseNow() }
