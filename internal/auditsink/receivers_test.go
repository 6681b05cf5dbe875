package auditsink

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyport/keyport/internal/audit"
)

// received is what one receiver holds, in arrival order, duplicates kept.
type received struct {
	mu   sync.Mutex
	recs []audit.ExportRecord
}

func (r *received) add(x audit.ExportRecord) {
	r.mu.Lock()
	r.recs = append(r.recs, x)
	r.mu.Unlock()
}

func (r *received) all() []audit.ExportRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.ExportRecord(nil), r.recs...)
}

// checkStream is what a receiver can check from the lines alone: after
// dropping ids it already holds, the events are 1..want in order; every
// hash recomputes and links to the previous event's. A repeat may only
// restart from an earlier point (a resend), never skip ahead.
func checkStream(t *testing.T, name string, recs []audit.ExportRecord, want int64) {
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

// syslogReceiver is an RFC 6587 octet-counting TCP receiver that can be
// taken down (listener and connections closed) and brought back on its port.
type syslogReceiver struct {
	t     *testing.T
	addr  string
	got   received
	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	wg    sync.WaitGroup
}

func newSyslogReceiver(t *testing.T) *syslogReceiver {
	r := &syslogReceiver{t: t}
	r.up()
	t.Cleanup(r.down)
	return r
}

func (r *syslogReceiver) up() {
	addr := r.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.ln, r.addr = ln, ln.Addr().String()
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

func (r *syslogReceiver) down() {
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
func (r *syslogReceiver) read(c net.Conn) {
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
		r.got.add(x)
	}
}

// httpsReceiver accepts JSON-array batches (or Splunk HEC events) over TLS
// and answers 503 while it is "down".
type httpsReceiver struct {
	srv   *httptest.Server
	got   received
	down  atomic.Bool
	auth  atomic.Value // the last Authorization header
	posts atomic.Int64
}

func newHTTPSReceiver(t *testing.T, splunk bool) *httpsReceiver {
	r := &httpsReceiver{}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.posts.Add(1)
		if r.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		r.auth.Store(req.Header.Get("Authorization"))
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
			r.got.add(x)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *httpsReceiver) roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(r.srv.Certificate())
	return p
}
