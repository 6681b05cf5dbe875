package cxone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keyport/keyport/internal/secret"
)

// Config configures a Client. The zero value talks to the real CXone hosts
// with decode-only identity (no JWKS).
type Config struct {
	// URLTemplate, when set, replaces the area table's hosts for every area:
	// "{region}" is replaced by the area ("http://127.0.0.1:8081/{region}").
	URLTemplate string
	// Areas overrides or adds entries of the built-in area table.
	Areas map[Region]string
	// JWKSURL, when set, turns on RS256 signature and issuer verification
	// of the tokens CXone returns. Empty means decode only.
	JWKSURL string
	// Verify is the verification mode when JWKSURL is set; "" means enforce.
	Verify VerifyMode
	// Issuers is the issuer allow-list. Empty means the production issuers
	// plus any issuer with the same origin as JWKSURL (the simulator).
	Issuers []string
	// CallTimeout bounds each HTTP attempt (default 15 s).
	CallTimeout time.Duration
	// DialTimeout bounds connecting and the TLS handshake (default 5 s).
	DialTimeout time.Duration
	// UserAgent is sent on every call (default "Keyport").
	UserAgent string
	// HTTPClient replaces the client built from the timeouts above.
	HTTPClient *http.Client
	// ForceHTTP1 disables HTTP/2 on the built client (cxone-api.md §3).
	ForceHTTP1 bool
	// Logger receives one line per attempt (never a body); nil discards.
	Logger *slog.Logger
	// Backoff is the wait before retry 1 and 2 (default 1 s, 3 s), each
	// plus up to 50 % jitter. Tests shrink it.
	Backoff []time.Duration
	// MaxRetryAfter is the longest Retry-After honoured (default 30 s); a
	// longer one ends the retries with RateLimited.
	MaxRetryAfter time.Duration
	// Sleep waits between retries; nil means a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// VerifyMode says what a failed JWT verification does.
type VerifyMode string

const (
	VerifyOff     VerifyMode = "off"     // decode only
	VerifyWarn    VerifyMode = "warn"    // log and mark Identity.Verified false
	VerifyEnforce VerifyMode = "enforce" // fail the call
)

// maxRetries is cxone-api.md §3: at most two retries of an idempotent call.
const maxRetries = 2

// maxBody caps every response body read.
const maxBody = 1 << 20

// Client calls CXone. It is safe for concurrent use.
type Client struct {
	areas       map[Region]string
	urlTemplate string
	http        *http.Client
	timeout     time.Duration
	userAgent   string
	log         *slog.Logger
	backoff     []time.Duration
	maxRA       time.Duration
	sleep       func(context.Context, time.Duration) error
	now         func() time.Time
	verifier    *verifier // nil: decode only
}

// NewClient checks cfg and builds a Client.
func NewClient(cfg Config) (*Client, error) {
	c := &Client{
		areas:     DefaultAreas(),
		timeout:   cfg.CallTimeout,
		userAgent: cfg.UserAgent,
		log:       cfg.Logger,
		backoff:   cfg.Backoff,
		maxRA:     cfg.MaxRetryAfter,
		sleep:     cfg.Sleep,
		now:       cfg.Now,
	}
	var errs []error
	maps.Copy(c.areas, cfg.Areas)
	for r, u := range cfg.Areas {
		if err := checkBaseURL(u); err != nil {
			errs = append(errs, fmt.Errorf("area %q: %w", sanitizeRegion(r), err))
		}
	}
	if cfg.URLTemplate != "" {
		if !strings.Contains(cfg.URLTemplate, "{region}") {
			errs = append(errs, errors.New("URL template: no {region} placeholder"))
		} else if err := checkBaseURL(strings.ReplaceAll(cfg.URLTemplate, "{region}", "na1")); err != nil {
			errs = append(errs, fmt.Errorf("URL template: %w", err))
		}
		c.urlTemplate = cfg.URLTemplate
	}
	if c.timeout <= 0 {
		c.timeout = 15 * time.Second
	}
	dial := cfg.DialTimeout
	if dial <= 0 {
		dial = 5 * time.Second
	}
	if c.userAgent == "" {
		c.userAgent = "Keyport"
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.backoff == nil {
		c.backoff = []time.Duration{time.Second, 3 * time.Second}
	}
	if c.maxRA <= 0 {
		c.maxRA = 30 * time.Second
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.http = cfg.HTTPClient
	if c.http == nil {
		c.http = newHTTPClient(dial, c.timeout, cfg.ForceHTTP1)
	}
	if cfg.JWKSURL != "" {
		mode := cfg.Verify
		if mode == "" {
			mode = VerifyEnforce
		}
		switch mode {
		case VerifyOff, VerifyWarn, VerifyEnforce:
		default:
			errs = append(errs, fmt.Errorf("verify mode %q: want off, warn or enforce", Sanitize(string(mode))))
		}
		if err := checkBaseURL(cfg.JWKSURL); err != nil {
			errs = append(errs, fmt.Errorf("JWKS URL: %w", err))
		}
		if mode != VerifyOff {
			c.verifier = newVerifier(cfg.JWKSURL, mode, cfg.Issuers, c)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// newHTTPClient is the client's own transport: the contract's timeouts,
// optional HTTP/1.1 only, and no redirects (a redirect is outside the contract).
func newHTTPClient(dial, headers time.Duration, http1 bool) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   dial,
		ResponseHeaderTimeout: headers,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     !http1,
	}
	if http1 {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetHTTP1(true)
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("not an http(s) URL")
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// request is one logical call; do turns it into one or more attempts.
type request struct {
	op         string
	method     string
	region     Region
	rawURL     string // absolute; built by url()
	body       any    // JSON-marshalled; nil for none
	bearer     secret.Secret
	idempotent bool // retried on connection errors, 429 and 5xx
	create     bool // never retried; lost outcomes are OutcomeUnknown
}

type response struct {
	status  int
	header  http.Header
	body    []byte
	url     *url.URL
	corrID  string
	attempt int
}

func (c *Client) url(r Region, path string, q url.Values) (string, error) {
	base, err := c.BaseURL(r)
	if err != nil {
		return "", err
	}
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u, nil
}

// do sends req, retrying idempotent calls, and returns a 2xx response or
// an *Error.
// kindOfStatus is cxone-api.md §4's status mapping (5xx aside).
var kindOfStatus = map[int]ErrorKind{400: BadRequest, 422: BadRequest, 401: Unauthorized, 403: Forbidden,
	404: NotFound, 409: Conflict, 429: RateLimited, 408: Timeout}

// doJSON sends req and reads its body as a JSON object; a body that is not
// one is an unexpected shape.
func (c *Client) doJSON(ctx context.Context, req request) (object, *response, error) {
	resp, err := c.do(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	o, err := jsonBody(resp)
	if err != nil {
		return nil, resp, shapeError(req, resp, err)
	}
	return o, resp, nil
}

func (c *Client) do(ctx context.Context, req request) (*response, error) {
	var payload []byte
	if req.body != nil {
		var err error
		if payload, err = json.Marshal(req.body); err != nil {
			return nil, &Error{Kind: BadRequest, Op: req.op, Message: "request could not be encoded"}
		}
	}
	for attempt := 1; ; attempt++ {
		resp, sent, err := c.attempt(ctx, req, payload, attempt)
		if err != nil {
			e := c.transportError(ctx, req, err, sent, attempt)
			if req.idempotent && attempt <= maxRetries && e.Kind == Unavailable && ctx.Err() == nil {
				if werr := c.sleep(ctx, c.backoffFor(attempt, 0)); werr == nil {
					continue
				}
			}
			return nil, e
		}
		if resp.status >= 200 && resp.status < 300 {
			return resp, nil
		}
		e := c.statusError(req, resp, attempt)
		if req.idempotent && attempt <= maxRetries && retryableStatus(resp.status) {
			ra, hasRA := retryAfter(resp.header, c.now())
			if !hasRA || ra <= c.maxRA {
				if werr := c.sleep(ctx, c.backoffFor(attempt, ra)); werr == nil {
					continue
				}
			}
		}
		return nil, e
	}
}

func retryableStatus(s int) bool {
	return s == http.StatusTooManyRequests || s == 500 || s == 502 || s == 503 || s == 504
}

// backoffFor is the wait before retry number attempt: the server's
// Retry-After when it sent one, else the schedule plus jitter.
func (c *Client) backoffFor(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	if len(c.backoff) == 0 {
		return 0
	}
	d := c.backoff[min(attempt-1, len(c.backoff)-1)]
	if d <= 0 {
		return 0
	}
	return d + rand.N(d/2+1)
}

func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// attempt sends one request. sent reports whether the request was
// completely written, which decides OutcomeUnknown for create.
func (c *Client) attempt(ctx context.Context, req request, payload []byte, n int) (resp *response, sent bool, err error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var wrote atomic.Bool // set from the transport's write goroutine
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) { wrote.Store(info.Err == nil) },
	})
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	hr, err := http.NewRequestWithContext(actx, req.method, req.rawURL, body)
	if err != nil {
		return nil, false, err
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", c.userAgent)
	if payload != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if !req.bearer.IsZero() {
		hr.Header.Set("Authorization", "Bearer "+req.bearer.Reveal())
	}
	start := c.now()
	logAttrs := []any{"op", req.op, "region", string(req.region), "method", req.method, "path", hr.URL.Path, "attempt", n}
	hresp, err := c.http.Do(hr)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "cxone call failed", slog.String("op", req.op),
			slog.String("region", string(req.region)), slog.String("path", hr.URL.Path), slog.Int("attempt", n),
			slog.String("err", Sanitize(errorText(err))), slog.Duration("duration", c.now().Sub(start)))
		return nil, wrote.Load(), err
	}
	defer hresp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(hresp.Body, maxBody+1))
	if err != nil {
		return nil, true, err
	}
	if len(b) > maxBody {
		return nil, true, errBodyTooLarge
	}
	level := slog.LevelInfo
	if h, ok := c.log.Handler().(interface{ RequestLevel(int) slog.Level }); ok {
		level = h.RequestLevel(hresp.StatusCode) // one line per call is a request line: keyport dev keeps them at debug
	}
	c.log.Log(ctx, level, "cxone call", append(logAttrs, "status", hresp.StatusCode, "duration", c.now().Sub(start))...)
	return &response{status: hresp.StatusCode, header: hresp.Header, body: b, url: hresp.Request.URL,
		corrID: Sanitize(hresp.Header.Get("CorrelationId")), attempt: n}, true, nil
}

var errBodyTooLarge = errors.New("response body larger than 1 MiB")

// errorText keeps a transport error's text but drops the URL that
// *url.Error prepends (ids in query strings are not secret, but a
// proxy-configured URL could carry credentials).
func errorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

// transportError classifies a failure that produced no usable response.
func (c *Client) transportError(ctx context.Context, req request, err error, sent bool, attempt int) *Error {
	e := &Error{Op: req.op, Attempts: attempt, Err: errors.New(Sanitize(errorText(err)))}
	timedOut := errors.Is(err, context.DeadlineExceeded) || isNetTimeout(err)
	canceled := errors.Is(ctx.Err(), context.Canceled)
	switch {
	case errors.Is(err, errBodyTooLarge):
		e.Kind, e.Message = UnexpectedResponse, "response body larger than 1 MiB"
	case timedOut:
		e.Kind, e.Message = Timeout, "CXone did not answer in time"
	case canceled:
		e.Kind, e.Message = Timeout, "call canceled"
		e.Err = ctx.Err()
	default:
		e.Kind, e.Message = Unavailable, "could not reach CXone"
	}
	if req.create && sent {
		e.Kind = OutcomeUnknown
		e.Message = "the create request was sent but its result was lost (" + e.Message + "); list the keys to find out"
	}
	return e
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// statusError turns a non-2xx answer into an *Error.
func (c *Client) statusError(req request, resp *response, attempt int) *Error {
	e := &Error{Op: req.op, Status: resp.status, CorrelationID: resp.corrID, Attempts: attempt,
		Message: ErrorMessage(resp.status, resp.header, resp.body)}
	if ra, ok := retryAfter(resp.header, c.now()); ok {
		e.RetryAfter = int(ra / time.Second)
	}
	switch k, ok := kindOfStatus[resp.status]; {
	case ok:
		e.Kind = k
	case resp.status >= 500:
		e.Kind = Unavailable
	default:
		e.Kind = UnexpectedResponse
	}
	// cxone-api.md §6.2: for create only these statuses prove nothing was made.
	if req.create {
		switch resp.status {
		case 400, 401, 403, 404, 409, 422, 429:
		default:
			e.Kind = OutcomeUnknown
			e.Message += "; the key may have been created, list the keys to find out"
		}
	}
	return e
}

// shapeError is a 2xx whose body breaks the contract.
func shapeError(req request, resp *response, why error) *Error {
	kind := UnexpectedResponse
	msg := "unexpected response shape: " + Sanitize(why.Error())
	if looksHTML(resp.header, resp.body) {
		msg = fmt.Sprintf("upstream returned HTML (status %d)", resp.status)
	}
	if req.create {
		kind = OutcomeUnknown
		msg += "; the key may have been created, list the keys to find out"
	}
	return &Error{Kind: kind, Op: req.op, Status: resp.status, Message: msg, CorrelationID: resp.corrID, Attempts: resp.attempt}
}

// jsonBody checks that a 2xx carries JSON (or no declared type) and
// returns it as an object.
func jsonBody(resp *response) (object, error) {
	ct := strings.ToLower(resp.header.Get("Content-Type"))
	if ct != "" && !strings.Contains(ct, "json") {
		return nil, fmt.Errorf("content type is not JSON")
	}
	return decodeObject(resp.body)
}
