package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestHelpListsCommands(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"help"}, &out, &out); code != 0 {
		t.Fatalf("rooms help exited %d", code)
	}
	for name := range commands {
		if !strings.Contains(out.String(), name) {
			t.Errorf("help does not list %q:\n%s", name, out.String())
		}
	}
	if !strings.Contains(out.String(), "signal") {
		t.Errorf("help does not list signal")
	}
}

func TestUnknownCommandAndBadFlags(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"nope"}, &out, &out); code != 2 {
		t.Fatalf("unknown command exited %d, want 2", code)
	}
	if code := run(context.Background(), nil, &out, &out); code != 2 {
		t.Fatalf("no command exited %d, want 2", code)
	}
	out.Reset()
	if code := run(context.Background(), []string{"signal", "--path", "x"}, &out, &out); code != 2 || !strings.Contains(out.String(), "--path") {
		t.Fatalf("bad --path exited %d: %s", code, out.String())
	}
}
