package signal_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/rooms-dev/rooms/pkg/signal"
)

// BenchmarkClientRoundTrip measures an OFFER/ANSWER round trip between two
// clients through each server on loopback, and reports its p50 and p99.
func BenchmarkClientRoundTrip(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			url, serr := be.startOnce()
			if serr != nil {
				b.Fatalf("start %s server: %v", be.name, serr)
			}
			ctx := context.Background()
			a, err := signal.Dial(ctx, signal.ClientConfig{URL: url})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			echo, err := signal.Dial(ctx, signal.ClientConfig{URL: url})
			if err != nil {
				b.Fatal(err)
			}
			defer echo.Close()
			go func() {
				for m := range echo.Messages() {
					_ = echo.Send(ctx, signal.Message{Type: signal.TypeAnswer, Dst: m.Src, Payload: m.Payload})
				}
			}()
			const perOp = 200
			rtts := make([]time.Duration, 0, perOp*b.N)
			offer := signal.Message{Type: signal.TypeOffer, Dst: echo.ID(), Payload: json.RawMessage(`{"sdp":"v=0"}`)}
			b.ResetTimer()
			for range b.N {
				for range perOp {
					start := time.Now()
					if err := a.Send(ctx, offer); err != nil {
						b.Fatal(err)
					}
					select {
					case m := <-a.Messages():
						if m.Type != signal.TypeAnswer {
							b.Fatalf("got %+v", m)
						}
					case <-time.After(waitLong):
						b.Fatal("no answer")
					}
					rtts = append(rtts, time.Since(start))
				}
			}
			b.StopTimer()
			slices.Sort(rtts)
			b.ReportMetric(float64(rtts[len(rtts)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(rtts[len(rtts)*99/100].Microseconds()), "p99-µs")
		})
	}
}
