package auditsink

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/auditsink/sinktest"
	"github.com/keyport/keyport/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestParseNamesAndRefuses(t *testing.T) {
	ts, err := Parse(" file:///var/log/k.jsonl , syslog+tls://siem.example:6514#siem ,https://c.example/in", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 || ts[0].Kind != "file" || ts[1].Name != "siem" || ts[1].Kind != "syslog+tls" || ts[2].Kind != "https" {
		t.Fatalf("parsed %+v", ts)
	}
	if !strings.HasPrefix(ts[0].Name, "file-") || len(ts[0].Name) != len("file-")+8 {
		t.Fatalf("default name %q", ts[0].Name)
	}
	q, err := Parse("https://c.example/in?token=s3cret#q", "")
	if err != nil || strings.Contains(q[0].Display, "s3cret") || q[0].url.RawQuery != "token=s3cret" {
		t.Fatalf("a sink's query (where a collector's credentials can sit) is shown as %q (%v), or not sent", q[0].Display, err)
	}
	again, _ := Parse("file:///var/log/k.jsonl", "")
	if again[0].Name != ts[0].Name {
		t.Fatalf("a sink's name changed between parses: %q, %q", ts[0].Name, again[0].Name)
	}
	for in, want := range map[string]string{
		"http://c.example/in":            "only over TLS",
		"file://relative":                "file:///absolute/path",
		"syslog+tcp://host":              "host:port",
		"splunk-hec+https://s.example/x": "KEYPORT_AUDIT_SINK_TOKEN_FILE",
		"https://user:pw@c.example/x":    "credentials",
		"kafka://b:9092":                 "unknown kind",
		"file:///a#Bad Name":             "lower-case",
		"file:///a#x,file:///b#x":        "two sinks",
	} {
		_, err := Parse(in, "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error saying %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("Parse(%q) echoes the password: %v", in, err)
		}
	}
}

func recs(from, to int64) []audit.ExportRecord {
	var out []audit.ExportRecord
	for id := from; id <= to; id++ {
		out = append(out, audit.ExportRecord{ID: id, OccurredAt: "2026-11-29T10:00:00.000000Z", Action: "key.list", Outcome: "success"})
	}
	return out
}

func readLines(t *testing.T, paths ...string) []int64 {
	t.Helper()
	var ids []int64
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var x audit.ExportRecord
			if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			ids = append(ids, x.ID)
		}
		f.Close()
	}
	return ids
}

// The file sink keeps every event across logrotate's two ways: rename (it
// reopens the path) and copytruncate (O_APPEND writes at the new end).
func TestFileSinkFollowsRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	s, err := openFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	send := func(from, to int64) {
		if acked, err := s.Send(context.Background(), recs(from, to)); err != nil || acked != to {
			t.Fatalf("send %d..%d: acked %d, %v", from, to, acked, err)
		}
	}
	send(1, 3)
	if err := os.Rename(path, path+".1"); err != nil { // logrotate's default
		t.Fatal(err)
	}
	send(4, 5)
	// copytruncate: copy, then truncate in place under the open file.
	b, _ := os.ReadFile(path)
	os.WriteFile(path+".2", b, 0o600)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	send(6, 7)
	got := readLines(t, path+".1", path+".2", path)
	if want := "[1 2 3 4 5 6 7]"; strings.Join(strings.Fields(strings.Trim(strings.ReplaceAll(fmtIDs(got), ",", " "), "[]")), " ") != strings.Trim(want, "[]") {
		t.Fatalf("rotated files hold %v, want %s", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("the sink file is %v, want 0600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); len(b) > 0 && b[0] == 0 {
		t.Fatalf("after copytruncate the file starts with NUL bytes: the sink wrote at its old offset")
	}
}

func fmtIDs(ids []int64) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

// appendEvents writes n events in small chunks, as portals would.
func appendEvents(t *testing.T, ctx context.Context, pool *pgxpool.Pool, n int) {
	for written := 0; written < n; {
		k := min(250, n-written)
		if _, err := audit.Seed(ctx, pool, k, uint64(written+1), time.Now()); err != nil {
			t.Error(err)
			return
		}
		written += k
		time.Sleep(10 * time.Millisecond)
	}
}

func quick() Options {
	return Options{Batch: 200, Poll: 20 * time.Millisecond, MinBackoff: 50 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond, LockRetry: 100 * time.Millisecond}
}

// Two instances stream the same trail to a file, a syslog receiver and an
// HTTPS collector while events are appended, each receiver is down for a
// while and the first instance stops halfway: every receiver ends with
// every id from 1 to the last, in order once duplicates are dropped, and
// the hash chain checks out from what it received alone.
func TestTwoInstancesDeliverEveryEventInOrderThroughOutages(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pools := make([]*pgxpool.Pool, 3)
	for i := range pools {
		p, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		pools[i] = p
	}
	sys := sinktest.NewSyslog(t)
	web := sinktest.NewHTTPS(t, false)
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	targets, err := Parse("file://"+file+"#file,syslog+tcp://"+sys.Addr+"#syslog,"+web.Srv.URL+"/in#web", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range targets {
		targets[i].roots = web.Roots()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	first, second := New(pools[0], targets, log, quick()), New(pools[1], targets, log, quick())
	if err := first.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	firstCtx, stopFirst := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); first.Run(firstCtx) }()
	go func() { defer wg.Done(); second.Run(ctx) }()

	const total = 5000
	go appendEvents(t, ctx, pools[2], total)
	waitFor(t, func() bool { return len(sys.Got.All()) > 500 })
	sys.Down()
	web.Down.Store(true)
	time.Sleep(400 * time.Millisecond)
	sys.Up()
	web.Down.Store(false)
	waitFor(t, func() bool { return len(web.Got.All()) > 2500 })
	stopFirst() // an instance stops; the other takes its sinks over
	waitFor(t, func() bool {
		h, err := second.Health(ctx)
		if err != nil {
			return false
		}
		for _, s := range h {
			if s.LastID < total {
				return false
			}
		}
		return len(h) == 3
	})
	cancel()
	wg.Wait()

	sinktest.CheckStream(t, "syslog", sys.Got.All(), total)
	sinktest.CheckStream(t, "https", web.Got.All(), total)
	var fromFile []audit.ExportRecord
	f, _ := os.Open(file)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var x audit.ExportRecord
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			t.Fatal(err)
		}
		fromFile = append(fromFile, x)
	}
	f.Close()
	sinktest.CheckStream(t, "file", fromFile, total)
	if web.Posts.Load() == int64(len(web.Got.All())) {
		t.Fatalf("the HTTPS receiver never refused a batch: the outage was not exercised")
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
