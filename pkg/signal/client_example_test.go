package signal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rooms-dev/rooms/pkg/signal"
)

// A doorman claims the room id and answers knocks; a newcomer with a
// throwaway id knocks. (Compiled, not run: it needs a server.)
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	doorman, err := signal.Dial(ctx, signal.ClientConfig{
		URL:   "http://127.0.0.1:9000/",
		ID:    "room-3f2a",
		Token: "secret-replicated-to-members",
	})
	if errors.Is(err, signal.ErrIDTaken) {
		fmt.Println("room exists")
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer doorman.Close()

	newcomer, err := signal.Dial(ctx, signal.ClientConfig{URL: "http://127.0.0.1:9000/"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer newcomer.Close()
	knock := signal.Message{Type: signal.TypeOffer, Dst: doorman.ID(), Payload: json.RawMessage(`{"sdp":"..."}`)}
	if err := newcomer.Send(ctx, knock); err != nil {
		fmt.Println(err)
		return
	}
	m := <-doorman.Messages()
	_ = doorman.Send(ctx, signal.Message{Type: signal.TypeAnswer, Dst: m.Src, Payload: json.RawMessage(`{"sdp":"..."}`)})
	if reply := <-newcomer.Messages(); reply.Type == signal.TypeExpire {
		fmt.Println("room not found")
	}
}
