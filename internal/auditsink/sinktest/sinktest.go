// Package sinktest holds receivers for the audit sinks' tests: a syslog
// receiver (RFC 6587 octet counting) and an HTTPS collector that can each be
// taken down and brought back, and the check a receiver can make of what it
// got from the lines alone. Only tests import it.
package sinktest

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyport/keyport/internal/audit"
)

// Received is what one receiver holds, in arrival order, duplicates kept.
type Received struct {
	mu   sync.Mutex
	recs []audit.ExportRecord
}

func (r *Received) add(x audit.ExportRecord) {
	r.mu.Lock()
	r.recs = append(r.recs, x)
	r.mu.Unlock()
}

func (r *Received) All() []audit.ExportRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.ExportRecord(nil), r.recs...)
}

// CheckStream is what a receiver can check from the lines alone: after
// dropping ids it already holds, the events are 1..want in order; every
// hash recomputes and links to the previous event's. A repeat may only
// restart from an earlier point (a resend), never skip ahead.
func CheckStream(t testing.TB, name string, recs []audit.ExportRecord, want int64) {
	t.Helper()
	var next int64 = 1
	prev := strings.Repeat("00", 32)
	dups := 0
	for i := range recs {
		x := &recs[i]
		if x.ID < next {
			dups++
			continue
		}
		if x.ID != next {
			t.Fatalf("%s: after id %d came id %d: a gap", name, next-1, x.ID)
		}
		if err := audit.CheckRecord(x); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if x.PrevHash != prev {
			t.Fatalf("%s: event %d's prev_hash is not event %d's hash", name, x.ID, x.ID-1)
		}
		prev = x.Hash
		next++
	}
	if next-1 != want {
		t.Fatalf("%s holds ids 1..%d, want 1..%d", name, next-1, want)
	}
	t.Logf("%s: %d events, %d duplicates", name, want, dups)
}

// Syslog is an RFC 6587 octet-counting TCP receiver that can be
// taken down (listener and connections closed) and brought back on its port.
type Syslog struct {
	t     testing.TB
	Addr  string
	Got   Received
	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	wg    sync.WaitGroup
}

func NewSyslog(t testing.TB) *Syslog {
	r := &Syslog{t: t}
	r.Up()
	t.Cleanup(r.Down)
	return r
}

func (r *Syslog) Up() {
	addr := r.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.ln, r.Addr = ln, ln.Addr().String()
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
			r.wg.Add(1)
			go func() { defer r.wg.Done(); r.read(c) }()
		}
	}()
}

func (r *Syslog) Down() {
	r.mu.Lock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
	r.mu.Unlock()
	r.wg.Wait()
}

// read parses "<len> <msg>" frames; the event is the JSON after the
// structured data.
func (r *Syslog) read(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		n, err := br.ReadString(' ')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil || size <= 0 || size > 1<<20 {
			r.t.Errorf("syslog frame length %q", n)
			return
		}
		msg := make([]byte, size)
		if _, err := io.ReadFull(br, msg); err != nil {
			return
		}
		if !bytes.HasPrefix(msg, []byte("<")) || !bytes.Contains(msg, []byte(">1 ")) || !bytes.Contains(msg, []byte("[keyport@32473 id=\"")) {
			r.t.Errorf("not an RFC 5424 message with Keyport's structured data: %.120s", msg)
			return
		}
		var x audit.ExportRecord
		if err := json.Unmarshal(msg[bytes.IndexByte(msg, '{'):], &x); err != nil {
			r.t.Errorf("syslog message body: %v", err)
			return
		}
		if !bytes.Contains(msg, []byte(fmt.Sprintf(`id="%d" hash="%s" prev_hash="%s"`, x.ID, x.Hash, x.PrevHash))) {
			r.t.Errorf("structured data disagrees with the body of event %d", x.ID)
		}
		r.Got.add(x)
	}
}

// HTTPS accepts JSON-array batches (or Splunk HEC events) over TLS
// and answers 503 while it is "down".
type HTTPS struct {
	Srv   *httptest.Server
	Got   Received
	Down  atomic.Bool  // answer 503 to every POST
	Auth  atomic.Value // the last Authorization header
	Posts atomic.Int64
}

func NewHTTPS(t testing.TB, splunk bool) *HTTPS {
	r := &HTTPS{}
	r.Srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.Posts.Add(1)
		if r.Down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		r.Auth.Store(req.Header.Get("Authorization"))
		dec := json.NewDecoder(req.Body)
		var batch []audit.ExportRecord
		if splunk {
			for dec.More() {
				var ev struct {
					Event audit.ExportRecord `json:"event"`
				}
				if err := dec.Decode(&ev); err != nil {
					http.Error(w, err.Error(), 400)
					return
				}
				batch = append(batch, ev.Event)
			}
		} else if err := dec.Decode(&batch); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for _, x := range batch {
			r.Got.add(x)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.Srv.Close)
	return r
}

func (r *HTTPS) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(r.Srv.Certificate())
	return p
}

// ReadFile is every record of a file sink, in the order written.
func ReadFile(t testing.TB, path string) []audit.ExportRecord {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.ExportRecord
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var x audit.ExportRecord
		if err := json.Unmarshal(line, &x); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, x)
	}
	return out
}

// Holds reports whether recs hold every id from 1 to n (duplicates allowed).
func Holds(recs []audit.ExportRecord, n int64) bool {
	var next int64 = 1
	for _, x := range recs {
		if x.ID == next {
			next++
		}
	}
	return next > n
}

// CertFile writes the collector's certificate as PEM into dir, for a child
// process's SSL_CERT_FILE.
func (r *HTTPS) CertFile(t testing.TB, dir string) string {
	p := filepath.Join(dir, "collector.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
