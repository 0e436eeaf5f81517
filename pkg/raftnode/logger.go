package raftnode

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

// raftLogger adapts etcd raft's Logger to slog. Raft's Info chatter (elections,
// term changes) goes to Debug; its warnings and errors stay visible.
type raftLogger struct{ l *slog.Logger }

func (r raftLogger) Debug(v ...any) { r.log(slog.LevelDebug, fmt.Sprint(v...)) }
func (r raftLogger) Debugf(format string, v ...any) {
	r.log(slog.LevelDebug, fmt.Sprintf(format, v...))
}
func (r raftLogger) Info(v ...any)                 { r.log(slog.LevelDebug, fmt.Sprint(v...)) }
func (r raftLogger) Infof(format string, v ...any) { r.log(slog.LevelDebug, fmt.Sprintf(format, v...)) }
func (r raftLogger) Warning(v ...any)              { r.log(slog.LevelWarn, fmt.Sprint(v...)) }
func (r raftLogger) Warningf(format string, v ...any) {
	r.log(slog.LevelWarn, fmt.Sprintf(format, v...))
}
func (r raftLogger) Error(v ...any) { r.log(slog.LevelError, fmt.Sprint(v...)) }
func (r raftLogger) Errorf(format string, v ...any) {
	r.log(slog.LevelError, fmt.Sprintf(format, v...))
}
func (r raftLogger) Fatal(v ...any)                 { r.fatal(fmt.Sprint(v...)) }
func (r raftLogger) Fatalf(format string, v ...any) { r.fatal(fmt.Sprintf(format, v...)) }
func (r raftLogger) Panic(v ...any)                 { r.panic(fmt.Sprint(v...)) }
func (r raftLogger) Panicf(format string, v ...any) { r.panic(fmt.Sprintf(format, v...)) }

func (r raftLogger) log(level slog.Level, msg string) {
	r.l.Log(context.Background(), level, msg)
}

func (r raftLogger) fatal(msg string) {
	r.l.Error(msg)
	os.Exit(1)
}

// panic keeps raft's contract: these are broken invariants.
func (r raftLogger) panic(msg string) {
	r.l.Error(msg)
	panic(msg)
}
