//go:build !js

package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// brotliBudget is the most rooms.wasm may weigh, brotli-compressed, as a
// CDN serves it (issue 5).
const brotliBudget = 2.2e6

// BenchmarkWasmSize reports rooms.wasm's size as built by make dist: raw,
// gzip -9 and brotli -q 11 (the brotli binary; about a minute on two
// cores), in bytes. It reports, it does not fail, when over budget.
func BenchmarkWasmSize(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(env.dist, "rooms.wasm"))
	if err != nil {
		b.Fatal(err)
	}
	brotli, err := exec.LookPath("brotli")
	if err != nil {
		b.Fatalf("brotli is needed to measure rooms.wasm (apt-get install brotli): %v", err)
	}
	var gz, br int
	for b.Loop() {
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := w.Write(raw); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		gz = buf.Len()
		out, err := exec.Command(brotli, "-q", "11", "-c", filepath.Join(env.dist, "rooms.wasm")).Output()
		if err != nil {
			b.Fatalf("brotli: %v", err)
		}
		br = len(out)
	}
	b.ReportMetric(float64(len(raw)), "raw-bytes")
	b.ReportMetric(float64(gz), "gzip-bytes")
	b.ReportMetric(float64(br), "brotli-bytes")
	verdict := "within"
	if br > brotliBudget {
		verdict = "OVER"
	}
	b.Logf("rooms.wasm: raw %.2f MB, gzip -9 %.2f MB, brotli -q 11 %.2f MB: %s the %.1f MB brotli budget",
		float64(len(raw))/1e6, float64(gz)/1e6, float64(br)/1e6, verdict, brotliBudget/1e6)
}

// BenchmarkBrowserRoom reports, for five Chromium pages in one room: page
// load to Rooms usable (rooms.wasm fetched, compiled, Go started), create
// and join times, update latency until all five pages applied it (p50,
// p99) and until the doorman's page applied it (p50: the commit), updates/s
// with every page updating, and the round trip of an ephemeral message
// between two pages (the transport's floor: a change needs one and a half
// of them, plus signing and applying).
//
// floorP50Ms is the same round (append, quorum acks, commit; until all five
// applied) in plain JavaScript with no library between the same pages:
// this machine's floor, which swings with its speed as updateP50Ms does.
// goFloorP50Ms is that round handled by Go compiled to wasm and doing
// nothing else (gofloor), called through syscall/js as rooms.wasm is: Go's
// own cost in the page; goExportFloorP50Ms the same through
// //go:wasmexport, with no js.Value on the way. goCallUs and
// goExportCallUs time one call into Go that does nothing, each way, in a
// page with no updates running.
//
// cpuMsPerUpdate is the CPU the browser used (all its processes and
// threads) per timed update, mainThreadCpuMsPerUpdate the five pages' main
// threads' share: on a machine with fewer cores than pages the latency
// follows them. updateP50Ms2Pages is updateP50Ms in a room of two pages,
// the five closed: a core for each page here.
//
// Figures only; no asserts on speed.
func BenchmarkBrowserRoom(b *testing.B) {
	if err := buildGoFloor(env.dist); err != nil {
		b.Fatal(err)
	}
	var m map[string]float64
	for b.Loop() {
		out, err := runScenario("bench")
		if err != nil {
			b.Fatalf("scenario bench: %v\n%s", err, out)
		}
		_, line, ok := strings.Cut(out, "BENCH ")
		if !ok {
			b.Fatalf("scenario bench printed no figures:\n%s", out)
		}
		line, _, _ = strings.Cut(line, "\n")
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			b.Fatalf("scenario bench figures %q: %v", line, err)
		}
	}
	for _, k := range []string{"loadMs", "createMs", "joinMs", "updateP50Ms", "updateP99Ms", "doormanP50Ms", "updatesPerSec", "pingRttP50Ms", "floorP50Ms", "goFloorP50Ms", "goExportFloorP50Ms", "goCallUs", "goExportCallUs", "cpuMsPerUpdate", "mainThreadCpuMsPerUpdate", "updateP50Ms2Pages"} {
		b.ReportMetric(m[k], k)
	}
}

// buildGoFloor builds js/test/gofloor into dir as gofloor.wasm, where the
// bench scenario's floor.js loads it.
func buildGoFloor(dir string) error {
	return runSteps(wasmBuild("go", filepath.Join(dir, "gofloor.wasm"), "./js/test/gofloor"))
}

// TestBrowserBuildStaysLean guards rooms.wasm's size budget: the browser
// build uses the page's RTCPeerConnection, WebSocket and fetch, so none of
// these may come back (etcd raft's protobuf runtime makes the linker keep
// every exported method of every reachable type, so each costs a lot).
func TestBrowserBuildStaysLean(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./wasm")
	cmd.Dir = env.root
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	banned := []string{"net", "net/http", "net/url", "crypto/tls", "crypto/x509", "regexp", "github.com/coder/websocket"}
	for _, pkg := range strings.Fields(string(out)) {
		if slices.Contains(banned, pkg) || strings.HasPrefix(pkg, "github.com/pion/") {
			t.Errorf("the browser build links %s", pkg)
		}
	}
}
