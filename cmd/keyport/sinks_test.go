package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/auditsink/sinktest"
)

// TestSinksDeliverEveryEventThroughKillsAndOutages streams the trail from
// two built portals to a file, a syslog receiver and an HTTPS collector
// while 5,000 events are appended, one portal is killed with SIGKILL twice
// (and started again), the other once, the syslog receiver goes away and
// comes back, and the collector refuses for a while. Afterwards each
// receiver holds every id from 1 to the last, in order once duplicates are
// dropped, and the hash chain checks out from the received lines alone.
func TestSinksDeliverEveryEventThroughKillsAndOutages(t *testing.T) {
	w := newWorld(t)
	sys := sinktest.NewSyslog(t)
	web := sinktest.NewHTTPS(t, false)
	dir := t.TempDir()
	file := filepath.Join(dir, "audit.jsonl")
	w.env = append(w.env, "KEYPORT_AUDIT_SINKS=file://"+file+"#file,syslog+tcp://"+sys.Addr+"#syslog,"+web.Srv.URL+"/in#web",
		"SSL_CERT_FILE="+web.CertFile(t, dir))
	a, b := w.start(), w.start()

	const total = 5000
	var written atomic.Int64
	done := make(chan struct{})
	go func() { // other portals' actions, as far as the trail is concerned
		defer close(done)
		for written.Load() < total {
			n, err := audit.Seed(context.Background(), w.pool, 100, uint64(written.Load()+1), time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			written.Add(int64(n))
			time.Sleep(15 * time.Millisecond)
		}
	}()
	after := func(n int64) {
		for written.Load() < n {
			time.Sleep(10 * time.Millisecond)
		}
	}
	after(1000)
	a.kill()
	a = w.start()
	after(2000)
	sys.Down()
	web.Down.Store(true)
	after(3000)
	a.kill()
	sys.Up()
	a = w.start()
	after(3500)
	web.Down.Store(false)
	b.kill()
	<-done
	head := w.scalar(`SELECT max(id) FROM audit_events`)
	deadline := time.Now().Add(2 * time.Minute)
	for !(sinktest.Holds(sys.Got.All(), head) && sinktest.Holds(web.Got.All(), head) && sinktest.Holds(sinktest.ReadFile(t, file), head)) {
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes the receivers lack events up to %d:\n%s", head, a.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	sinktest.CheckStream(t, "syslog", sys.Got.All(), head)
	sinktest.CheckStream(t, "https", web.Got.All(), head)
	sinktest.CheckStream(t, "file", sinktest.ReadFile(t, file), head)
	if web.Posts.Load() == int64(len(web.Got.All())) {
		t.Fatal("the collector never refused a batch: its outage was not exercised")
	}
	out := w.keyport("audit", "sinks")
	for _, name := range []string{"\nfile ", "\nsyslog ", "\nweb "} {
		if !strings.Contains(out, name) {
			t.Errorf("keyport audit sinks does not list %q:\n%s", name, out)
		}
	}
}
