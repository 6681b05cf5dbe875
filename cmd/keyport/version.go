package main

import (
	"cmp"
	"context"
	"fmt"
	"runtime/debug"
)

// Set at link time: go build -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var (
	version = ""
	commit  = ""
	date    = ""
)

type buildInfo struct{ Version, Commit, Date, Go string }

// build returns the linker-stamped values, falling back to what the Go
// toolchain recorded (module version, VCS revision and time).
func build() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Date: date}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.Go = bi.GoVersion
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = cmp.Or(b.Commit, s.Value)
			case "vcs.time":
				b.Date = cmp.Or(b.Date, s.Value)
			}
		}
	}
	b.Version = cmp.Or(b.Version, "dev")
	b.Commit = cmp.Or(b.Commit, "unknown")
	b.Date = cmp.Or(b.Date, "unknown")
	return b
}

func cmdVersion(_ context.Context, e env, args []string) error {
	fs := newFlagSet(e, "version", "version")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	b := build()
	fmt.Fprintf(e.stdout, "keyport %s\ncommit %s\nbuilt %s\n%s\n", b.Version, b.Commit, b.Date, b.Go)
	return nil
}
