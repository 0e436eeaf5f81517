//go:build !js

package mesh_test

import (
	"context"
	"fmt"
	"time"

	"github.com/rooms-dev/rooms/pkg/mesh"
)

// Two peers in one process, with signals passed through Go channels where a
// real application would use its signalling server or the mesh.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	toA, toB := make(chan mesh.Signal, 4), make(chan mesh.Signal, 4)
	got := make(chan mesh.Frame, 1)
	const typeChat = mesh.TypeUserMin

	a, err := mesh.New(mesh.Config{LoopbackOnly: true}, "bob",
		func(s mesh.Signal) error { toB <- s; return nil })
	if err != nil {
		panic(err)
	}
	defer a.Close()
	b, err := mesh.New(mesh.Config{LoopbackOnly: true, OnFrame: func(f mesh.Frame) { got <- f }}, "alice",
		func(s mesh.Signal) error { toA <- s; return nil })
	if err != nil {
		panic(err)
	}
	defer b.Close()

	// Alice offers; Bob accepts the offer; Alice takes Bob's answer.
	if err := a.Dial(ctx); err != nil {
		panic(err)
	}
	if err := b.Accept(ctx, <-toB); err != nil {
		panic(err)
	}
	if err := a.HandleSignal(<-toA); err != nil {
		panic(err)
	}
	if err := a.WaitReady(ctx); err != nil {
		panic(err)
	}

	if err := a.Send(typeChat, []byte("hello")); err != nil {
		panic(err)
	}
	f := <-got
	fmt.Printf("%q from %s\n", f.Payload, f.From)
	// Output: "hello" from alice
}
