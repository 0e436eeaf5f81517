package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rooms-dev/rooms/pkg/signal"
)

// TestSignalCommand builds rooms, runs `rooms signal` on a free loopback
// port under a path, talks to it, and stops it with SIGTERM.
func TestSignalCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "rooms")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "signal", "--addr", "127.0.0.1:0", "--path", "/sig", "--key", "k", "--debug")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := make(chan string, 1)
	var logs []string
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		re := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs = append(logs, sc.Text())
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a + "/sig"
	case <-time.After(10 * time.Second):
		t.Fatal("rooms signal did not report its address")
	}

	resp, err := http.Get(base + "/k/id")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(id) == 0 {
		t.Fatalf("GET /sig/k/id = %d %q", resp.StatusCode, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+base[len("http://"):]+"/peerjs?key=k&token=t&id="+string(id), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	_, b, err := ws.Read(ctx)
	var m signal.Message
	if err != nil || json.Unmarshal(b, &m) != nil || m.Type != signal.TypeOpen {
		t.Fatalf("first frame %q, %v; want OPEN", b, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("socket after SIGTERM: %v, want going away", err)
	}
	<-logsDone
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rooms signal exited with %v after SIGTERM; logs:\n%q", err, logs)
	}
}

func TestAllowListNamesRoomsByTheirRoomsForm(t *testing.T) {
	ids := allowedIDs("chat-app", []string{"lobby"})
	if len(ids) != 2 || ids[0] != "lobby" || ids[1] != signal.RoomID("chat-app", "lobby") {
		t.Fatalf("allowedIDs = %v", ids)
	}
	if signal.RoomID("chat-app", "lobby") == signal.RoomID("other-app", "lobby") {
		t.Fatal("two apps' lobby rooms claim the same id")
	}
}
