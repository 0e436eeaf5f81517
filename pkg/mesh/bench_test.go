//go:build !js

package mesh

import (
	"slices"
	"testing"
	"time"
)

// echo sends every frame p receives back to its sender until stop closes.
func echo(p *peer, stop chan struct{}) {
	for {
		select {
		case f := <-p.frames:
			_ = p.conn.Send(f.Type, f.Payload)
		case <-stop:
			return
		}
	}
}

// roundTrips times n small-frame round trips a→b→a.
func roundTrips(b *testing.B, a *peer, n int) []time.Duration {
	b.Helper()
	payload := make([]byte, 64)
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if err := a.conn.Send(typeTest, payload); err != nil {
			b.Fatal(err)
		}
		a.nextFrame(b)
		out = append(out, time.Since(start))
	}
	return out
}

// BenchmarkFrameRoundTrip measures the latency of a 64-byte frame's round
// trip over loopback (echoed by the remote's frame consumer). Each iteration
// is 200 round trips; p50/p99 are over all of them.
func BenchmarkFrameRoundTrip(b *testing.B) {
	a, r := newPair(b, nil)
	stop := make(chan struct{})
	defer close(stop)
	go echo(r, stop)
	roundTrips(b, a, 50) // warm up: the first messages after connect are slow
	var all []time.Duration
	b.ResetTimer()
	for range b.N {
		all = append(all, roundTrips(b, a, 200)...)
	}
	b.StopTimer()
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[int(p*float64(len(all)-1))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// BenchmarkThroughput measures reliable-channel throughput with 1 MiB frames
// (64 chunks each), 32 MiB per iteration, from the first Send until the last
// frame is delivered.
func BenchmarkThroughput(b *testing.B) {
	a, r := newPair(b, nil)
	const frameSize, frames = 1 << 20, 32
	payload := make([]byte, frameSize)
	send := func(n int) {
		go func() {
			for range n {
				if err := a.conn.Send(typeTest, payload); err != nil {
					b.Error(err)
					return
				}
			}
		}()
		for range n {
			if f := r.nextFrame(b); len(f.Payload) != frameSize {
				b.Fatalf("frame of %d bytes", len(f.Payload))
			}
		}
	}
	send(2) // warm up
	b.SetBytes(frameSize * frames)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		send(frames)
	}
	b.StopTimer()
	mb := float64(frameSize*frames*b.N) / (1 << 20)
	b.ReportMetric(mb/time.Since(start).Seconds(), "MiB/s")
}

// BenchmarkChunking measures the codec alone: encoding a 1 MiB frame into
// chunks, decoding and reassembling them.
func BenchmarkChunking(b *testing.B) {
	payload := randomBytes(1<<20, 7)
	r := newReassembler(DefaultMaxFrameSize, DefaultMaxPendingFrames)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for i := range b.N {
		var got []byte
		err := encodeFrame(typeTest, uint32(i), payload, func(msg []byte) error {
			m, err := decodeMessage(msg)
			if err != nil {
				return err
			}
			_, p, done, err := r.add(m)
			if done {
				got = p
			}
			return err
		})
		if err != nil || len(got) != len(payload) {
			b.Fatalf("got %d bytes, %v", len(got), err)
		}
	}
}
