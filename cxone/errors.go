package cxone

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrorKind classifies a failed call so that callers can switch on it.
type ErrorKind int

const (
	_ ErrorKind = iota
	// BadRequest is a 400/422 from CXone, or a request refused locally
	// before anything was sent (for example a malformed basic token).
	BadRequest
	// Unauthorized is a 401: the token is expired, invalid or already used.
	Unauthorized
	// Forbidden is a 403: a missing "My Access Key"/"Access Key" privilege
	// or another tenant's data.
	Forbidden
	// NotFound is a 404.
	NotFound
	// Conflict is a 409.
	Conflict
	// RateLimited is a 429 that retries did not get past.
	RateLimited
	// Unavailable is a 5xx or a connection failure on a call that is safe to
	// report as "did not happen" (idempotent calls, or nothing was sent).
	Unavailable
	// Timeout is a call that did not answer within its deadline.
	Timeout
	// OutcomeUnknown is a create whose request was sent but whose result was
	// lost (timeout, reset, 5xx, unparseable 2xx). Reconcile by listing.
	OutcomeUnknown
	// UnexpectedResponse is an answer outside the contract: HTML, a 2xx
	// without the fields Keyport needs, an unexpected status.
	UnexpectedResponse
)

var kindNames = map[ErrorKind]string{
	BadRequest: "bad_request", Unauthorized: "unauthorized", Forbidden: "forbidden",
	NotFound: "not_found", Conflict: "conflict", RateLimited: "rate_limited",
	Unavailable: "unavailable", Timeout: "timeout", OutcomeUnknown: "outcome_unknown",
	UnexpectedResponse: "unexpected_response",
}

func (k ErrorKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// ErrNeedBasicToken is wrapped by the error a TokenSource returns once its
// refresh token has been rejected: the admin must paste a new basic token.
var ErrNeedBasicToken = errors.New("cxone: refresh token rejected; a new basic token is needed")

// Error is a failed CXone call. Message is CXone's own human message (or a
// sentence of ours), sanitized: at most 300 characters, no control
// characters, nothing that looks like a JWT or an access-key secret.
type Error struct {
	Kind ErrorKind
	// Op names the call ("create access key").
	Op string
	// Status is the upstream HTTP status; 0 when no response arrived.
	Status int
	// Message is safe to show a user and to log.
	Message string
	// CorrelationID is CXone's CorrelationId response header, for the audit record.
	CorrelationID string
	// RetryAfter is the server's Retry-After on a 429, when it sent one.
	RetryAfter int
	// Attempts is how many requests were sent for this call.
	Attempts int
	// Err is the cause (a transport error, ErrNeedBasicToken, ...). It never
	// holds a response body.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cxone")
	if e.Op != "" {
		b.WriteString(": ")
		b.WriteString(e.Op)
	}
	b.WriteString(": ")
	b.WriteString(e.Kind.String())
	if e.Status != 0 {
		fmt.Fprintf(&b, " (status %d)", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(Sanitize(e.Err.Error()))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the first *Error in err's chain, or 0.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

const maxMessage = 300

var (
	jwtLike    = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*`)
	secretLike = regexp.MustCompile(`[A-Z2-7]{32,}=*`)
	// longOpaque catches base64/base64url blobs of 40+ characters, which in
	// a CXone message can only be a credential.
	longOpaque = regexp.MustCompile(`[A-Za-z0-9+_-]{40,}={0,3}`)
)

// Sanitize makes s safe to show and log: control characters become spaces,
// JWT- and secret-looking runs become "[redacted]", and the result is cut
// to 300 characters.
func Sanitize(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = jwtLike.ReplaceAllString(s, "[redacted]")
	s = secretLike.ReplaceAllString(s, "[redacted]")
	s = longOpaque.ReplaceAllString(s, "[redacted]")
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxMessage {
		r := []rune(s)
		s = string(r[:maxMessage-1]) + "…"
	}
	return s
}

// ErrorMessage extracts CXone's human message from an error response with
// the precedence of cxone-api.md §4: OAuth error_description, camelCase
// errorDescription, Spring message, {code,details,errors}, message/msg/
// detailedMessage, the icStatusDescription header, then the status text.
// An HTML body is never shown. The result is sanitized.
func ErrorMessage(status int, header http.Header, body []byte) string {
	if m := messageFromBody(body); m != "" {
		if s := Sanitize(m); s != "" {
			return s
		}
	}
	if header != nil {
		if d := Sanitize(header.Get("icStatusDescription")); d != "" {
			return d
		}
	}
	if looksHTML(header, body) {
		return fmt.Sprintf("upstream returned HTML (status %d)", status)
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return fmt.Sprintf("status %d", status)
}

func looksHTML(header http.Header, body []byte) bool {
	if header != nil && strings.Contains(strings.ToLower(header.Get("Content-Type")), "html") {
		return true
	}
	t := strings.ToLower(strings.TrimSpace(string(body[:min(len(body), 512)])))
	return strings.HasPrefix(t, "<!doctype") || strings.HasPrefix(t, "<html") || strings.HasPrefix(t, "<")
}

// messageFromBody returns the raw (unsanitized) message of a JSON error
// body, or "" when the body is not one of the §4 shapes.
func messageFromBody(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	str := func(k string) string {
		raw, ok := m[k]
		if !ok {
			return ""
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	}
	// 1 and 2: OAuth, snake then camel. The bare "error" code is a fallback
	// only when nothing more human exists.
	if s := str("error_description"); s != "" {
		return s
	}
	if s := str("errorDescription"); s != "" {
		return s
	}
	// 3: Spring. 5 shares "message"; the precedence is the same either way.
	if s := str("message"); s != "" {
		return s
	}
	// 4: {code, details, errors}.
	if s := str("details"); s != "" {
		return s
	}
	if s := errorsField(m["errors"]); s != "" {
		return s
	}
	// 5.
	for _, k := range []string{"msg", "detailedMessage"} {
		if s := str(k); s != "" {
			return s
		}
	}
	if s := str("error"); s != "" {
		return s
	}
	return ""
}

// errorsField reads the "errors" member of the §4 {code,details} shape,
// which is a string in some services and an object or array in others.
func errorsField(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		var parts []string
		for _, item := range list {
			if p := errorItem(item); p != "" {
				parts = append(parts, p)
			}
			if len(parts) == 5 {
				break
			}
		}
		return strings.Join(parts, "; ")
	}
	return errorItem(raw)
}

func errorItem(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return ""
	}
	for _, k := range []string{"message", "details", "description", "msg", "error"} {
		var v string
		if json.Unmarshal(obj[k], &v) == nil && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	// An object keyed by field name: {"userId":"must not be blank"}.
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		var v string
		if json.Unmarshal(obj[k], &v) == nil && strings.TrimSpace(v) != "" {
			parts = append(parts, k+": "+strings.TrimSpace(v))
		}
	}
	return strings.Join(parts, "; ")
}
