package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/internal/pgtest"
)

// BenchmarkServeColdStart execs the real binary against a database that is
// already up and migrated, and reports the time from exec to the first 200
// from /readyz (target < 300 ms) and the process's resident memory after a
// second of idling (target < 40 MB).
func BenchmarkServeColdStart(b *testing.B) { coldStart(b) }

// BenchmarkTableColdStart is the same measurement as a row of `make bench`'s
// table (issue 14): report only.
//
//	go test -run '^$' -bench TableColdStart -benchtime 1x ./cmd/keyport
func BenchmarkTableColdStart(b *testing.B) { coldStart(b) }

func coldStart(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "keyport")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	dbURL := pgtest.NewDatabase(b)
	env := append(os.Environ(), "KEYPORT_DATABASE_URL="+dbURL, "KEYPORT_SESSION_KEY="+newKey(),
		"KEYPORT_ENCRYPTION_KEY="+newKey(), "KEYPORT_AUDIT_KEY="+newKey(), "KEYPORT_LOG_LEVEL=warn")
	var total time.Duration
	var rssKB int64
	for b.Loop() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cmd := exec.Command(bin, "serve", "--addr", addr)
		cmd.Env = env
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		client := &http.Client{Timeout: time.Second}
		for {
			res, err := client.Get("http://" + addr + "/readyz")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					break
				}
			}
			if time.Since(start) > 10*time.Second {
				_ = cmd.Process.Kill()
				b.Fatal("no 200 from /readyz within 10 s")
			}
			time.Sleep(2 * time.Millisecond)
		}
		total += time.Since(start)
		time.Sleep(time.Second)
		rssKB = max(rssKB, vmRSS(cmd.Process.Pid))
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			b.Fatal("serve did not stop on SIGINT")
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms_to_ready")
	b.ReportMetric(float64(rssKB)/1024, "idle_RSS_MB")
}

func vmRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb
		}
	}
	return 0
}
