package handlers

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/input"
	"github.com/keyport/keyport/internal/kp"
)

// The input boundary. Every value a request carries is checked here, once,
// before any handler runs: path parameters, query parameters, form fields,
// and the headers Keyport stores. A handler cannot forget it, because it is
// middleware on every route and because a route whose path parameter has no
// kind below makes New panic (and the route-table test fail).

// maxBody bounds every request body, whatever its transfer encoding;
// Keyport's forms are small.
const maxBody = 64 << 10

// maxUserAgent is how much of a User-Agent the audit trail keeps.
const maxUserAgent = 512

// field is how the boundary checks one named value and how its messages
// name it.
type field struct {
	kind input.Kind
	name string
}

// pathParams are the kinds of the routes' path parameters. A value that
// fails its kind names nothing that can exist: 404.
var pathParams = map[string]field{
	"key":      {input.KeyID, "access key"},
	"conn":     {input.UUID, "connection"},
	"rotation": {input.UUID, "rotation"},
	"event":    {input.Number, "audit event"},
	"run":      {input.Number, "verify run"},
}

// formFields are the kinds of every query parameter and form field a
// handler reads. A name not listed gets input.Text, the floor.
var formFields = map[string]field{
	// tenant administrators
	"region":            {input.Area, "area"},
	"next":              {input.LocalPath, "return address"},
	"basic_token":       {input.Token, "basic token"},
	"access_key_id":     {input.KeyID, "access key id"},
	"access_key_secret": {input.KeySecret, "secret"},
	"intent":            {input.Handle, "form id"},
	"label":             {input.Label, "label"},
	"user_id":           {input.CXoneID, "owner"},
	"user":              {input.CXoneID, "user filter"},
	"rotation":          {input.UUID, "rotation"},
	"confirm":           {input.Label, "confirmation"},
	"created":           {input.Word, "creation page mark"},
	"saved":             {input.Word, "saved-secret box"},
	// security reviewers
	"username": {input.Username, "username"},
	"password": {input.Password, "password"},
	"totp":     {input.TOTPCode, "one-time code"},
	// a local reviewer's Change password
	"current_password": {input.Password, "current password"},
	"new_password":     {input.Password, "new password"},
	"confirm_password": {input.Password, "new password again"},
	// a reviewer's own sessions
	"session": {input.Handle, "session"},
	"others":  {input.Word, "every other session"},
	"from":    {input.Time, "from time"},
	"to":      {input.Time, "to time"},
	"tenant":  {input.Filter, "tenant filter"},
	"area":    {input.Area, "area filter"},
	"actor":   {input.Filter, "actor filter"},
	"action":  {input.Word, "action filter"},
	"outcome": {input.Word, "outcome filter"},
	"key":     {input.KeyID, "key filter"},
	"request": {input.RequestID, "request id filter"},
	"q":       {input.Filter, "text filter"},
	"before":  {input.Number, "page cursor"},
	"after":   {input.Number, "page cursor"},
	"events":  {input.Word, "every-event switch"},
	"reads":   {input.Word, "page-views switch"},
	// the credential report's filters
	"owner":          {input.Filter, "owner filter"},
	"key_state":      {input.Word, "state filter"},
	"stale":          {input.Word, "stale switch"},
	"outside":        {input.Word, "outside-Keyport switch"},
	"never_verified": {input.Word, "never-verified switch"},
	"secret_lost":    {input.Word, "secret-lost switch"},
	"gone":           {input.Word, "gone filter"},
	"violation":      {input.Word, "policy violation filter"},
	// the key policies (issue 25)
	"policy_tenant":       {input.CXoneID, "tenant"},
	"max_age_days":        {input.Word, "max key age"},
	"max_idle_days":       {input.Word, "max idle days"},
	"max_active_per_user": {input.Word, "max active keys per user"},
	"label_required":      {input.Word, "label required"},
	// the identity provider's answer (OIDC callback)
	"code":              {input.Token, "authorization code"},
	"state":             {input.Handle, "sign-in state"},
	"error":             {input.Word, "provider error"},
	"error_description": {input.Text, "provider error description"},
}

// fieldName is how a message names a parameter that has no entry above.
func fieldName(name string) field {
	if f, ok := formFields[name]; ok {
		return f
	}
	return field{input.Text, "parameter"}
}

// violation is one refused value.
type violation struct {
	param   string
	message string
}

const violationsKey = "keyport.input-violations"

// boundary is the input-checking middleware. forms names the routes
// ("METHOD /path") that re-render their own form with the message: for
// those the refused values are blanked and the handler asks inputError;
// every other route answers 422 here.
func boundary(forms map[string]bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if ua := req.Header.Get("User-Agent"); ua != "" {
				req.Header.Set("User-Agent", input.Clean(ua, maxUserAgent))
			}
			if err := checkPath(c); err != nil {
				return err
			}
			if err := parseForm(req); err != nil {
				return err
			}
			bad := checkValues(req)
			if len(bad) == 0 {
				return next(c)
			}
			if !forms[req.Method+" "+c.Path()] {
				return kp.Errorf(kp.Invalid, "%s", bad[0].message)
			}
			blank(req, bad)
			c.Set(violationsKey, bad)
			return next(c)
		}
	}
}

// inputError is the first value the boundary refused on a form route, as a
// kp.Invalid error naming the field, or nil.
func inputError(c echo.Context) error {
	bad, _ := c.Get(violationsKey).([]violation)
	if len(bad) == 0 {
		return nil
	}
	return kp.Errorf(kp.Invalid, "%s", bad[0].message)
}

// checkPath checks the path parameters. echo hands them over unescaped
// unless the request's path was escaped in a non-canonical way, in which
// case they are raw: unescape those here, once, so no handler does.
func checkPath(c echo.Context) error {
	names, values := c.ParamNames(), c.ParamValues()
	raw := c.Request().URL.RawPath != ""
	for i, name := range names {
		if i >= len(values) || name == "*" {
			continue
		}
		f, ok := pathParams[name]
		if !ok {
			return fmt.Errorf("path parameter %q has no input kind", name)
		}
		v := values[i]
		if raw {
			u, err := url.PathUnescape(v)
			if err != nil {
				return kp.Errorf(kp.NotFound, "There is no %s at this address.", f.name)
			}
			v, values[i] = u, u
		}
		if v == "" || input.Check(f.kind, v) != "" || strings.TrimSpace(v) != v {
			return kp.Errorf(kp.NotFound, "There is no %s at this address.", f.name)
		}
	}
	return nil
}

// parseForm reads the query and the body's form, at most maxBody bytes of
// it whatever the transfer encoding: an oversized body is 413, a malformed
// one 400.
func parseForm(req *http.Request) error {
	if req.ContentLength > maxBody {
		return echo.ErrStatusRequestEntityTooLarge
	}
	lb := &limitedBody{ReadCloser: req.Body, left: maxBody}
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = lb
	}
	var err error
	if ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); ct == "multipart/form-data" {
		err = req.ParseMultipartForm(maxBody)
		if errors.Is(err, http.ErrNotMultipart) || errors.Is(err, http.ErrMissingBoundary) {
			err = errMalformed
		}
	} else {
		err = req.ParseForm()
	}
	switch {
	case lb.over:
		return echo.ErrStatusRequestEntityTooLarge
	case err != nil:
		return kp.Wrap(kp.Malformed, err, "The request's parameters are malformed (a bad %-escape or a stray separator).")
	}
	return nil
}

var errMalformed = errors.New("malformed multipart form")

// limitedBody reads at most left bytes and remembers when a body was longer.
type limitedBody struct {
	io.ReadCloser
	left int64
	over bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells an exact fit from an oversized body.
		var one [1]byte
		if n, _ := b.ReadCloser.Read(one[:]); n > 0 {
			b.over = true
			return 0, echo.ErrStatusRequestEntityTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// checkValues checks every name and value of the query and the form,
// in a stable order so the message is the same each time.
func checkValues(req *http.Request) []violation {
	var bad []violation
	check := func(vals url.Values) {
		names := make([]string, 0, len(vals))
		for name := range vals {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if p := input.Check(input.Word, name); p != "" && name != "" {
				bad = append(bad, violation{name, "A parameter name " + string(p) + "."})
				continue
			}
			f := fieldName(name)
			for _, v := range vals[name] {
				if p := input.Check(f.kind, v); p != "" {
					bad = append(bad, violation{name, "The " + f.name + " " + string(p) + "."})
					break
				}
			}
		}
	}
	check(req.Form) // the query and an urlencoded body
	if req.MultipartForm != nil {
		check(req.MultipartForm.Value)
	}
	return bad
}

// blank empties the refused values, so a form handler that re-renders
// never carries them to a service or back into the page.
func blank(req *http.Request, bad []violation) {
	q := req.URL.Query()
	for _, b := range bad {
		for _, m := range []url.Values{req.Form, req.PostForm, q} {
			if _, ok := m[b.param]; ok {
				m[b.param] = []string{""}
			}
		}
		if req.MultipartForm != nil {
			delete(req.MultipartForm.Value, b.param)
		}
	}
	req.URL.RawQuery = q.Encode()
}
