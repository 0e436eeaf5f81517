package raftnode

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// cluster runs real Nodes (goroutines, wall-clock ticks) connected by an
// in-process transport that encodes every message as the wire would.
type cluster struct {
	t       testing.TB
	mu      sync.Mutex
	nodes   map[uint64]*Node
	kvs     map[uint64]*kvMachine
	storage map[uint64]Storage
	events  chan clusterEvent
	applied func(member uint64, index uint64, data []byte) // optional observer
	cfg     func(*Config)
	// machine, when set, builds each member's state machine instead of a kvMachine.
	machine func(id uint64) StateMachine
}

type clusterEvent struct {
	member     uint64
	leader     *LeaderInfo
	membership *MembershipChange
}

func newCluster(t testing.TB, voters int, tweak func(*Config)) *cluster {
	return newClusterWith(t, voters, tweak, nil)
}

func newClusterWith(t testing.TB, voters int, tweak func(*Config), machine func(uint64) StateMachine) *cluster {
	t.Helper()
	c := &cluster{machine: machine, t: t, nodes: map[uint64]*Node{}, kvs: map[uint64]*kvMachine{}, storage: map[uint64]Storage{}, events: make(chan clusterEvent, 1024), cfg: tweak}
	var founders []Member
	for i := 1; i <= voters; i++ {
		founders = append(founders, Member{ID: uint64(i)})
	}
	for _, f := range founders {
		storage := NewMemoryStorage()
		var initial StateMachine = newKV()
		if machine != nil {
			initial = machine(0)
		}
		if err := Bootstrap(storage, initial, founders); err != nil {
			t.Fatal(err)
		}
		c.start(f.ID, storage)
	}
	t.Cleanup(c.stopAll)
	return c
}

func (c *cluster) config(id uint64) Config {
	cfg := Config{
		ID: id, TickInterval: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnLeaderChange: func(li LeaderInfo) {
			c.emit(clusterEvent{member: id, leader: &li})
		},
		OnMembershipChange: func(mc MembershipChange) {
			c.emit(clusterEvent{member: id, membership: &mc})
		},
	}
	if c.cfg != nil {
		c.cfg(&cfg)
	}
	return cfg
}

func (c *cluster) emit(e clusterEvent) {
	select {
	case c.events <- e:
	default: // a test that does not read events must not stall the nodes
	}
}

// start runs member id on storage (bootstrapped, empty or reused).
func (c *cluster) start(id uint64, storage Storage) *Node {
	c.t.Helper()
	kv := newKV()
	var sm StateMachine = kv
	if c.machine != nil {
		sm = c.machine(id)
	}
	n, err := Start(c.config(id), storage, sm, TransportFunc(c.send))
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.nodes[id], c.kvs[id], c.storage[id] = n, kv, storage
	c.mu.Unlock()
	return n
}

func (c *cluster) node(id uint64) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

func (c *cluster) stop(id uint64) {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n != nil {
		n.Stop()
	}
}

func (c *cluster) stopAll() {
	c.mu.Lock()
	nodes := c.nodes
	c.nodes = map[uint64]*Node{}
	c.mu.Unlock()
	for _, n := range nodes {
		n.Stop()
	}
}

func (c *cluster) send(msgs []*pb.Message) {
	for _, m := range msgs {
		wire, err := proto.Marshal(m)
		if err != nil {
			c.t.Errorf("marshal: %v", err)
			continue
		}
		copyMsg := &pb.Message{}
		if err := proto.Unmarshal(wire, copyMsg); err != nil {
			c.t.Errorf("unmarshal: %v", err)
			continue
		}
		to, from := c.node(m.GetTo()), c.node(m.GetFrom())
		if to == nil {
			if from != nil {
				go from.ReportUnreachable(m.GetTo())
			}
			continue
		}
		to.Step(copyMsg)
		if m.GetType() == pb.MsgSnap && from != nil {
			go from.ReportSnapshot(m.GetTo(), true)
		}
	}
}

// waitFor reads cluster events until ok returns true for one of them.
func (c *cluster) waitFor(what string, timeout time.Duration, ok func(clusterEvent) bool) {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e := <-c.events:
			if ok(e) {
				return
			}
		case <-deadline:
			c.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// leader waits until some member reports itself leader and returns its id.
func (c *cluster) leader(timeout time.Duration) uint64 {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for id := range c.snapshotIDs() {
			if st := c.node(id); st != nil {
				if s := st.Status(); s.Role == RoleLeader {
					return id
				}
			}
		}
		select {
		case <-c.events: // something changed; look again
		case <-time.After(50 * time.Millisecond):
		}
	}
	c.t.Fatalf("no leader within %v", timeout)
	return 0
}

func (c *cluster) snapshotIDs() map[uint64]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := map[uint64]bool{}
	for id := range c.nodes {
		ids[id] = true
	}
	return ids
}

func (c *cluster) put(ctx context.Context, on uint64, client int, seq uint64, key, value string) error {
	v, err := c.node(on).Propose(ctx, mustJSON(kvCommand{Client: client, Seq: seq, Op: "put", Key: key, Value: value}))
	if err != nil {
		return err
	}
	if res := v.(kvResult); !res.OK {
		return fmt.Errorf("put %s=%s: %+v", key, value, res)
	}
	return nil
}

// readOn performs a linearizable read of key on member id.
func (c *cluster) readOn(ctx context.Context, id uint64, key string) (string, error) {
	if err := c.node(id).Read(ctx); err != nil {
		return "", err
	}
	var value string
	c.inspect(id, func(kv *kvMachine) { value = kv.get(key) })
	return value, nil
}

// inspect runs f on member id's state machine on the node's own goroutine,
// where the state machine may be read without a race.
func (c *cluster) inspect(id uint64, f func(*kvMachine)) {
	c.mu.Lock()
	kv, n := c.kvs[id], c.nodes[id]
	c.mu.Unlock()
	done := make(chan struct{})
	if !n.do(func(*Core) { f(kv); close(done) }) {
		c.t.Fatalf("member %d stopped", id)
	}
	<-done
}

func u64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
