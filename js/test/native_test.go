//go:build !js

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rooms-dev/rooms/pkg/room"
	"github.com/rooms-dev/rooms/pkg/state"
)

// TestNativeMember: a native Go member (pkg/room, native pion on
// loopback) joins a room a page created; each sees the other's update, and
// the Go member's ephemeral message reaches the page.
func TestNativeMember(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	roomID := fmt.Sprintf("native-%d", time.Now().UnixNano())
	cmd := exec.CommandContext(ctx, env.node, filepath.Join(env.root, "js", "test", "e2e.mjs"), "native", env.base)
	cmd.Dir = env.root
	cmd.Env = append(os.Environ(), "CHROMIUM="+env.chrome, "ROOMS_E2E_ROOM="+roomID)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	var out syncBuilder
	created := false
	for !created && lines.Scan() {
		out.WriteString(lines.Text() + "\n")
		created = lines.Text() == "CREATED"
	}
	if !created {
		_ = cmd.Wait()
		t.Fatalf("the page never created the room:\n%s%s", out.String(), stderr.String())
	}
	go func() { // keep draining so the driver never blocks on a full pipe
		for lines.Scan() {
			out.WriteString(lines.Text() + "\n")
		}
	}()

	fromPage := make(chan struct{}, 1)
	r, err := room.Join(ctx, "gopher", roomID, room.Options{
		SignalURL: env.base + "/signal/", LoopbackOnly: true,
		OnEvent: func(e room.Event) {
			if e.Type == room.EventStateUpdate && strings.Contains(string(mustJSON(e.Patch)), `"alice"`) {
				select {
				case fromPage <- struct{}{}:
				default:
				}
			}
		},
	})
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("native join: %v\n%s%s", err, out.String(), stderr.String())
	}
	defer r.Leave(context.Background())
	patch, _ := state.ParsePatch([]byte(`[{"op":"add","path":"/from/-","value":"gopher"}]`))
	if _, err := r.Update(ctx, patch); err != nil {
		t.Fatalf("native update: %v", err)
	}
	select {
	case <-fromPage:
	case <-ctx.Done():
		t.Fatalf("the page's update never reached the Go member:\n%s%s", out.String(), stderr.String())
	}
	if err := r.Send("alice", json.RawMessage(`{"hello":"from go"}`)); err != nil {
		t.Fatalf("native send: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("scenario native: %v\n%s%s", err, out.String(), stderr.String())
	}
	got, _ := r.State()
	if want := `{"from":["gopher","alice"]}`; string(got) != want {
		t.Errorf("Go member's state = %s, want %s", got, want)
	}
}

// syncBuilder is a strings.Builder safe for one writer and one reader.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) WriteString(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(v)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustJSON(p state.Patch) []byte {
	b, _ := json.Marshal(p)
	return b
}
