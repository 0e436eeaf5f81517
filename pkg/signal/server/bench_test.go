package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Benchmarks run each server instance in a child process (this test binary
// re-executed with benchServerEnv set), so that the server's memory can be
// read from /proc and is not mixed with the clients'.
const benchServerEnv = "ROOMS_SIGNAL_BENCH_SERVER"

// runBenchServer serves on a free loopback port until stdin closes.
func runBenchServer() int {
	s, err := New(Config{
		Logger: slog.New(slog.DiscardHandler), RedisURL: os.Getenv("ROOMS_SIGNAL_BENCH_REDIS"),
		MaxClients: -1, MaxClientsPerIP: -1, MessagesPerSecond: 1e6, MessageBurst: 1e6,
		ExpireTimeout: time.Minute,
	})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	hs := NewHTTPServer("", s)
	go hs.Serve(ln)
	fmt.Printf("addr=%s\n", ln.Addr())
	// Each stdin line asks for memory figures after a full GC.
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		debug.FreeOSMemory()
		if p := os.Getenv("ROOMS_SIGNAL_BENCH_HEAPPROFILE"); p != "" {
			f, _ := os.Create(p)
			pprof.WriteHeapProfile(f)
			f.Close()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Printf("heap=%d stack=%d sys=%d goroutines=%d\n", ms.HeapInuse, ms.StackInuse, ms.Sys, runtime.NumGoroutine())
	}
	s.Close()
	hs.Close()
	return 0
}

// benchServer is one server child process.
type benchServer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	addr   string
}

// memStats asks the server for a GC and its memory figures.
func (s *benchServer) memStats(b *testing.B) (heap, stack float64, line string) {
	if _, err := s.stdin.Write([]byte("gc\n")); err != nil {
		b.Fatal(err)
	}
	line, err := s.stdout.ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	var sys, g float64
	if _, err := fmt.Sscanf(line, "heap=%g stack=%g sys=%g goroutines=%g", &heap, &stack, &sys, &g); err != nil {
		b.Fatalf("mem stats %q: %v", line, err)
	}
	return heap, stack, line
}

func startBenchServer(b *testing.B, redisURL string) *benchServer {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchServerEnv+"=1", "ROOMS_SIGNAL_BENCH_REDIS="+redisURL)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	if !strings.HasPrefix(line, "addr=") {
		cmd.Process.Kill()
		b.Fatalf("bench server: %q %v", line, err)
	}
	return &benchServer{cmd: cmd, stdin: stdin, stdout: br, addr: strings.TrimSpace(line[5:])}
}

func (s *benchServer) stop() {
	s.stdin.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// rssBytes reads the resident memory of the server process.
func (s *benchServer) rssBytes(b *testing.B) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// rawClient is a minimal WebSocket client (text frames only), much lighter
// than a full library client, so 10,000 of them fit in the bench process.
type rawClient struct {
	c  net.Conn
	br *bufio.Reader
}

func rawDial(addr, id string) (*rawClient, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	req := "GET /peerjs?key=peerjs&token=t&id=" + id + " HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		c.Close()
		return nil, err
	}
	r := &rawClient{c: c, br: bufio.NewReaderSize(c, 1024)}
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("handshake %s: %v %v", id, resp, err)
	}
	f, err := r.read()
	if err != nil || !bytes.Contains(f, []byte(`"OPEN"`)) {
		c.Close()
		return nil, fmt.Errorf("register %s: %q %v", id, f, err)
	}
	return r, nil
}

func (r *rawClient) read() ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return nil, err
	}
	if op := h[0] & 0x0f; op == 8 {
		return nil, io.EOF
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(r.br, e[:]); err != nil {
			return nil, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(r.br, e[:]); err != nil {
			return nil, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r.br, p)
	return p, err
}

// write sends a masked text frame; the all-zero mask key leaves the payload
// as is, which the protocol allows.
func (r *rawClient) write(p []byte) error {
	buf := make([]byte, 0, len(p)+8)
	buf = append(buf, 0x81)
	if len(p) < 126 {
		buf = append(buf, 0x80|byte(len(p)))
	} else {
		buf = append(buf, 0x80|126, byte(len(p)>>8), byte(len(p)))
	}
	buf = append(buf, 0, 0, 0, 0)
	buf = append(buf, p...)
	_, err := r.c.Write(buf)
	return err
}

// fleet is a set of server processes with clients connected, kept across
// the calls the testing package makes to one benchmark with growing b.N.
type fleet struct {
	key     string
	redis   *exec.Cmd
	servers []*benchServer
	clients []*rawClient
	baseRSS []float64
}

var benchFleet = &fleet{}

func (f *fleet) stop() {
	for _, c := range f.clients {
		c.c.Close()
	}
	for _, s := range f.servers {
		s.stop()
	}
	if f.redis != nil {
		f.redis.Process.Kill()
		f.redis.Wait()
	}
	*f = fleet{}
}

// setup returns a fleet of n clients spread over instances servers (on one
// Redis when instances > 1); client i is on server i%instances.
func setupFleet(b *testing.B, n, instances int) *fleet {
	b.Helper()
	key := fmt.Sprint(n, "/", instances)
	if benchFleet.key == key {
		return benchFleet
	}
	benchFleet.stop()
	f := benchFleet
	f.key = key
	redisURL := ""
	if instances > 1 {
		redisURL, f.redis = startBenchRedis(b)
	}
	for range instances {
		s := startBenchServer(b, redisURL)
		f.servers = append(f.servers, s)
		f.baseRSS = append(f.baseRSS, s.rssBytes(b))
	}
	f.clients = make([]*rawClient, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := rawDial(f.servers[i%instances].addr, fmt.Sprintf("c%d", i))
			if err != nil {
				errs <- err
				return
			}
			f.clients[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		f.key = "" // broken: do not reuse
		b.Fatalf("connecting %d clients: %v", n, err)
	}
	return f
}

func startBenchRedis(b *testing.B) (string, *exec.Cmd) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatalf("redis-server: %v", err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "Ready to accept connections") {
			go io.Copy(io.Discard, out)
			return fmt.Sprintf("redis://127.0.0.1:%d/0", port), cmd
		}
	}
	b.Fatal("redis-server exited before it was ready")
	return "", nil
}

// Relay phases. Latency is measured with latencyPairs client pairs
// ping-ponging (below saturation, so the figure is the relay's own delay
// rather than queueing); throughput with throughputPairs pairs in closed
// loops. The rest of the fleet stays connected and idle.
const (
	latencyPairs    = 20
	throughputPairs = 100
	roundTrips      = 100 // per pair per b.N
	warmupTrips     = 5
)

// BenchmarkRelay reports relay latency (p50/p99 of one relay hop, half a
// measured OFFER/ANSWER round trip) and messages per second through one
// instance and through two instances over Redis, with 1,000 and 10,000
// connected clients. With two instances every pair spans both.
func BenchmarkRelay(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, inst := range []int{1, 2} {
			name := fmt.Sprintf("clients=%d/instances=%d", n, inst)
			b.Run(name+"/latency", func(b *testing.B) { benchRelay(b, n, inst, latencyPairs, true) })
			b.Run(name+"/throughput", func(b *testing.B) { benchRelay(b, n, inst, throughputPairs, false) })
		}
	}
}

func benchRelay(b *testing.B, n, instances, pairs int, latency bool) {
	f := setupFleet(b, n, instances)
	pairs = min(pairs, n/2)
	if _, _, err := runPairs(f, pairs, warmupTrips); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	all, elapsed, err := runPairs(f, pairs, b.N*roundTrips)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(all)
	if latency {
		b.ReportMetric(ms(all[len(all)/2]), "p50-ms")
		b.ReportMetric(ms(all[len(all)*99/100]), "p99-ms")
	} else {
		b.ReportMetric(float64(2*len(all))/elapsed.Seconds(), "msgs/s")
	}
	b.ReportMetric(float64(n), "clients")
}

// runPairs makes clients 2p and 2p+1 (p < pairs) exchange trips round
// trips and returns the one-hop latencies and the elapsed time.
func runPairs(f *fleet, pairs, trips int) ([]time.Duration, time.Duration, error) {
	lat := make([][]time.Duration, pairs)
	errs := make(chan error, 2*pairs)
	var wg sync.WaitGroup
	start := time.Now()
	for p := range pairs {
		a, z := f.clients[2*p], f.clients[2*p+1]
		wg.Add(2)
		go func() { defer wg.Done(); errs <- echo(z, fmt.Sprintf("c%d", 2*p), trips) }()
		go func() {
			defer wg.Done()
			l, err := ping(a, fmt.Sprintf("c%d", 2*p+1), trips)
			lat[p] = l
			errs <- err
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, 0, err
		}
	}
	return slices.Concat(lat...), elapsed, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ping sends count OFFERs stamped with the send time and waits for each
// ANSWER; it returns the one-way relay latency of every OFFER.
func ping(c *rawClient, dst string, count int) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, count)
	for range count {
		t0 := time.Now()
		msg := fmt.Sprintf(`{"type":"OFFER","dst":%q,"payload":%d}`, dst, t0.UnixNano())
		if err := c.write([]byte(msg)); err != nil {
			return lat, err
		}
		if _, err := c.read(); err != nil {
			return lat, err
		}
		lat = append(lat, time.Since(t0)/2) // half the round trip: one relay
	}
	return lat, nil
}

// echo answers count frames back to dst.
func echo(c *rawClient, dst string, count int) error {
	answer := []byte(fmt.Sprintf(`{"type":"ANSWER","dst":%q}`, dst))
	for range count {
		if _, err := c.read(); err != nil {
			return err
		}
		if err := c.write(answer); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkIdleClientMemory connects 10,000 idle clients to one instance
// and reports the server's resident memory per client.
func BenchmarkIdleClientMemory(b *testing.B) {
	const n = 10000
	f := setupFleet(b, n, 1)
	b.ResetTimer()
	for range b.N {
		rss := f.servers[0].rssBytes(b)
		_, _, line := f.servers[0].memStats(b)
		gcRSS := f.servers[0].rssBytes(b)
		b.Log(line)
		b.ReportMetric((rss-f.baseRSS[0])/n, "bytes/client")
		b.ReportMetric(rss/(1<<20), "server-MB")
		b.ReportMetric((gcRSS-f.baseRSS[0])/n, "bytes/client-after-gc")
	}
}
