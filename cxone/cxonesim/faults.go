package cxonesim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"
)

// Endpoint names an API endpoint, for Inject and Calls.
type Endpoint = string

const (
	EndpointRefresh = "refresh" // POST /public/user/refresh
	EndpointToken   = "token"   // POST /authentication/v1/token/access-key
	EndpointCreate  = "create"  // POST /access-key-management/v1/access-keys
	EndpointList    = "list"    // GET  /access-key-management/v1/access-keys
	EndpointGet     = "get"     // GET  /access-key-management/v1/access-keys/{id}
	EndpointPatch   = "patch"   // PATCH /access-key-management/v1/access-keys?accessKeyId=
	EndpointDelete  = "delete"  // DELETE /access-key-management/v1/access-keys/{id}
	EndpointJWKS    = "jwks"
)

// Mode is a fault mode (cxone-api.md §11 "Fault modes").
type Mode string

const (
	// Slow handles the call (committing any change), then waits Delay
	// before answering.
	Slow Mode = "slow"
	// DropBeforeCommit reads the request and resets the connection without acting.
	DropBeforeCommit Mode = "drop_before_commit"
	// DropAfterCommit acts (e.g. creates the key), then resets the connection.
	DropAfterCommit Mode = "drop_after_commit"
	// CommitThen500 acts, then answers 500 (Spring error body).
	CommitThen500 Mode = "commit_then_500"
	// CommitThenGarbage acts, then answers the real 2xx status with a
	// truncated body (or, with HTML set, an HTML page).
	CommitThenGarbage Mode = "commit_then_garbage_2xx"
	// HTML5xx answers Status (default 502) with a text/html gateway page.
	HTML5xx Mode = "html_5xx"
	// RateLimit answers 429, with Retry-After only when RetryAfter > 0.
	RateLimit Mode = "rate_limit"
	// ErrorShape answers Status (default 400) in error body Shape.
	ErrorShape Mode = "error_shape"
	// ExpireNow invalidates the token presented with the call, which then
	// proceeds (and fails with 401).
	ExpireNow Mode = "expire_now"
	// Variant handles the call with Variants instead of the instance's.
	Variant Mode = "variant"
)

// Shape is one error-body shape of cxone-api.md §4.
type Shape string

const (
	ShapeOAuth      Shape = "oauth"       // {"error","error_description"}
	ShapeOAuthCamel Shape = "oauth_camel" // {"error","errorDescription"}
	ShapeSpring     Shape = "spring"      // {"timestamp","status","error","message","path"}
	ShapeDetails    Shape = "details"     // {"code","details","hostName","entityType","errors":"…"}
	ShapeErrorsObj  Shape = "errors_obj"  // {"code","hostname","errors":{field: message}}
	ShapeMessage    Shape = "message"     // {"message"}
	ShapeMsg        Shape = "msg"         // {"msg"}
	ShapeDetailed   Shape = "detailed"    // {"detailedMessage"}
	ShapeHeaderOnly Shape = "header_only" // empty body, icStatusDescription header
	ShapeEmpty      Shape = "empty"       // empty body, no header
)

// Shapes lists every error shape.
func Shapes() []Shape {
	return []Shape{ShapeOAuth, ShapeOAuthCamel, ShapeSpring, ShapeDetails, ShapeErrorsObj,
		ShapeMessage, ShapeMsg, ShapeDetailed, ShapeHeaderOnly, ShapeEmpty}
}

// Fault scripts "the next Count calls to Endpoint" ("" = any API endpoint).
type Fault struct {
	Endpoint   Endpoint      `json:"endpoint"`
	Mode       Mode          `json:"mode"`
	Count      int           `json:"count"`              // 0 means 1
	Delay      time.Duration `json:"delay"`              // Slow; JSON: nanoseconds, or use delay_ms
	DelayMS    int           `json:"delay_ms,omitempty"` // Slow, for the control endpoint
	Status     int           `json:"status,omitempty"`   // HTML5xx, ErrorShape
	RetryAfter int           `json:"retry_after,omitempty"`
	Shape      Shape         `json:"shape,omitempty"`
	Message    string        `json:"message,omitempty"` // ErrorShape text
	HTML       bool          `json:"html,omitempty"`    // CommitThenGarbage as HTML
	Variants   *Variants     `json:"variants,omitempty"`
}

type faultEntry struct {
	Fault
	left int
}

var validModes = []Mode{Slow, DropBeforeCommit, DropAfterCommit, CommitThen500, CommitThenGarbage, HTML5xx, RateLimit, ErrorShape, ExpireNow, Variant}

// Inject queues f. Faults apply in the order injected, one per call.
func (s *Sim) Inject(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	if f.Delay == 0 && f.DelayMS > 0 {
		f.Delay = time.Duration(f.DelayMS) * time.Millisecond
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultEntry{Fault: f, left: f.Count})
}

func (f Fault) validate() error {
	if !slices.Contains(validModes, f.Mode) {
		return fmt.Errorf("unknown mode %q", f.Mode)
	}
	switch f.Endpoint {
	case "", EndpointRefresh, EndpointToken, EndpointCreate, EndpointList, EndpointGet, EndpointPatch, EndpointDelete:
	default:
		return fmt.Errorf("unknown endpoint %q", f.Endpoint)
	}
	if f.Mode == ErrorShape && f.Shape != "" && !slices.Contains(Shapes(), f.Shape) {
		return fmt.Errorf("unknown shape %q", f.Shape)
	}
	return nil
}

// ClearFaults drops every queued fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFaultLocked consumes the first queued fault for endpoint.
func (s *Sim) takeFaultLocked(endpoint string) *Fault {
	for i, f := range s.faults {
		if f.Endpoint == "" || f.Endpoint == endpoint {
			f.left--
			if f.left <= 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			cp := f.Fault
			return &cp
		}
	}
	return nil
}

// Calls returns how many requests reached endpoint (faulted ones included).
func (s *Sim) Calls(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[endpoint]
}

// RequestLogEntry is one request as the simulator saw it. It never holds a
// body, token or secret: only a hash of the body.
type RequestLogEntry struct {
	Time       time.Time `json:"time"`
	Endpoint   string    `json:"endpoint"`
	Region     string    `json:"region"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	BodySHA256 string    `json:"body_sha256,omitempty"` // first 16 hex digits
	Status     int       `json:"status"`                // 0: connection dropped
	Fault      Mode      `json:"fault,omitempty"`
}

// Requests returns the request log.
func (s *Sim) Requests() []RequestLogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// recorder buffers a handler's answer so that a fault can replace or drop
// it after the state change was committed.
type recorder struct {
	h      http.Header
	status int
	buf    bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.buf.Write(b)
}

// call is the per-request context an endpoint handler gets.
type call struct {
	region   string
	body     []byte
	variants Variants
	fault    *Fault
	base     string
}

type endpointFunc func(w http.ResponseWriter, r *http.Request, c *call)

// endpoint wraps an API handler with counting, the region check, the
// strict Accept check, fault injection and the request log.
func (s *Sim) endpoint(name string, fn endpointFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		region := r.PathValue("region")
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		entry := RequestLogEntry{Time: s.now().UTC(), Endpoint: name, Region: region, Method: r.Method, Path: r.URL.Path}
		if len(body) > 0 {
			sum := sha256.Sum256(body)
			entry.BodySHA256 = hex.EncodeToString(sum[:8])
		}
		s.mu.Lock()
		s.calls[name]++
		f := s.takeFaultLocked(name)
		v := s.variants
		base := cmpOr(s.base, requestBase(r))
		s.mu.Unlock()
		if f != nil {
			entry.Fault = f.Mode
			if f.Mode == Variant && f.Variants != nil {
				v = *f.Variants
			}
		}
		c := &call{region: region, body: body, variants: v, fault: f, base: base}
		status := s.serve(w, r, c, fn)
		entry.Status = status
		s.mu.Lock()
		s.requests = append(s.requests, entry)
		s.mu.Unlock()
		s.log.Info("cxonesim request", "endpoint", name, "region", region, "method", r.Method, "status", status, "fault", string(entry.Fault))
	}
}

func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Sim) serve(w http.ResponseWriter, r *http.Request, c *call, fn endpointFunc) int {
	if !s.knownRegion(c.region) {
		return writeError(w, r, http.StatusNotFound, ShapeSpring, "Unknown area")
	}
	f := c.fault
	if f != nil {
		switch f.Mode {
		case DropBeforeCommit:
			drop(w)
			return 0
		case HTML5xx:
			code := f.Status
			if code == 0 {
				code = http.StatusBadGateway
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(code)
			fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>%d %s</title></head><body><center><h1>%d %s</h1></center><hr><center>nginx</center></body></html>\n",
				code, http.StatusText(code), code, http.StatusText(code))
			return code
		case RateLimit:
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", fmt.Sprint(f.RetryAfter))
			}
			return writeError(w, r, http.StatusTooManyRequests, ShapeMessage, "Too many requests")
		case ErrorShape:
			code := f.Status
			if code == 0 {
				code = http.StatusBadRequest
			}
			shape := f.Shape
			if shape == "" {
				shape = ShapeOAuth
			}
			return writeError(w, r, code, shape, cmpOr(f.Message, fmt.Sprintf("Simulated %s error", shape)))
		case ExpireNow:
			s.expirePresented(r, c.body)
		}
	}
	if !c.variants.LenientAccept && !acceptsJSON(r.Header.Get("Accept")) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "No known way to render data")
		return http.StatusOK
	}
	if f == nil || (f.Mode != DropAfterCommit && f.Mode != CommitThen500 && f.Mode != CommitThenGarbage) {
		rec := &recorder{h: w.Header()}
		fn(rec, r, c)
		if f != nil && f.Mode == Slow {
			// Act first, answer late: a client that times out has still
			// changed state, the hard case for create.
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return 0
			}
		}
		return flush(w, rec)
	}
	rec := &recorder{h: http.Header{}}
	fn(rec, r, c) // the state change is committed here; its answer may carry a secret and is discarded
	switch f.Mode {
	case DropAfterCommit:
		drop(w)
		return 0
	case CommitThen500:
		return writeError(w, r, http.StatusInternalServerError, ShapeSpring, "Internal Server Error")
	default: // CommitThenGarbage
		status := cmpInt(rec.status, http.StatusOK)
		if f.HTML {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			io.WriteString(w, "<html><body>Service temporarily degraded</body></html>")
			return status
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, `{"accessKey":{"accessKeyId":"`) // truncated mid-object
		return status
	}
}

func cmpInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func flush(w http.ResponseWriter, rec *recorder) int {
	status := cmpInt(rec.status, http.StatusOK)
	w.WriteHeader(status)
	_, _ = w.Write(rec.buf.Bytes())
	return status
}

func acceptsJSON(accept string) bool {
	return bytes.Contains(bytes.ToLower([]byte(accept)), []byte("application/json"))
}

// drop resets the client's connection (RST, not FIN) without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
