// Package notifytest is a test helper: receivers of Keyport's
// notifications (a webhook that checks signatures as a real receiver
// should, and Slack- and Teams-shaped endpoints that keep what they get),
// which can go down and come back.
package notifytest

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyport/keyport/internal/notify"
)

// Tolerance is the webhook receiver's timestamp window.
const Tolerance = 5 * time.Minute

// Receiver is an HTTPS endpoint. A webhook receiver (Secret set) refuses a
// bad or stale signature (401) and does not act on a message id it already
// accepted: it answers 200 (so an at-least-once sender stops resending) and
// counts it in Replays. Every receiver answers 503 while Down. A function
// given to SetBefore runs first with the number of the request (from 1): a
// test holds a delivery there.
type Receiver struct {
	Srv     *httptest.Server
	Secret  string
	Down    atomic.Bool
	Posts   atomic.Int64
	Replays atomic.Int64
	Refused atomic.Int64 // bad signatures or timestamps
	Now     func() time.Time
	before  atomic.Pointer[func(n int64)]

	mu     sync.Mutex
	bodies [][]byte
	ids    []string
	seen   map[string]bool
	// Last is the last accepted request's Keyport-Signature header.
	Last string
}

// New starts a receiver; secret "" makes a Slack- or Teams-style one.
func New(t testing.TB, secret string) *Receiver {
	r := &Receiver{Secret: secret, seen: map[string]bool{}, Now: time.Now}
	r.Srv = httptest.NewTLSServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Srv.Close)
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	n := r.Posts.Add(1)
	if fn := r.before.Load(); fn != nil {
		(*fn)(n)
	}
	if r.Down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	sig := req.Header.Get("Keyport-Signature")
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Secret != "" {
		if err := notify.Verify(r.Secret, sig, body, r.Now(), Tolerance); err != nil {
			r.Refused.Add(1)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var msg struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(body, &msg) != nil || msg.ID == "" {
			http.Error(w, "no id", http.StatusBadRequest)
			return
		}
		if r.seen[msg.ID] {
			r.Replays.Add(1)
			_, _ = io.WriteString(w, "already received: ignored")
			return
		}
		r.seen[msg.ID] = true
		r.ids = append(r.ids, msg.ID)
		r.Last = sig
	}
	r.bodies = append(r.bodies, body)
	w.WriteHeader(http.StatusOK)
}

// SetBefore sets what runs first on each request (see Receiver).
func (r *Receiver) SetBefore(fn func(n int64)) { r.before.Store(&fn) }

// Bodies are the accepted bodies, in order.
func (r *Receiver) Bodies() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...)
}

// IDs are the accepted webhook messages' ids, in order.
func (r *Receiver) IDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

// Roots trusts the receiver's certificate.
func (r *Receiver) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(r.Srv.Certificate())
	return p
}

// CertFile writes the receiver's certificate as PEM into dir, for a child
// process's SSL_CERT_FILE.
func (r *Receiver) CertFile(t testing.TB, dir string) string {
	p := filepath.Join(dir, "receiver.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
