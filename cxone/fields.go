package cxone

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// object is a decoded JSON object whose members are read by name, so that a
// parse error can name the field without ever quoting its value.
type object map[string]json.RawMessage

func decodeObject(b []byte) (object, error) {
	var o object
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("body is not a JSON object")
	}
	if o == nil { // the literal null
		return nil, fmt.Errorf("body is not a JSON object")
	}
	return o, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// first returns the first present, non-null member among names.
func (o object) first(names ...string) (string, json.RawMessage) {
	for _, n := range names {
		if raw, ok := o[n]; ok && !isNull(raw) {
			return n, raw
		}
	}
	return "", nil
}

// str reads an optional string; numbers are accepted and kept as written
// (ids are opaque). Missing or null gives "".
func (o object) str(names ...string) (string, error) {
	name, raw := o.first(names...)
	if raw == nil {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&n); err == nil {
		return n.String(), nil
	}
	return "", fmt.Errorf("field %q: not a string", name)
}

// int reads an optional integer sent as a JSON number or a numeric string.
func (o object) int(names ...string) (v int64, present bool, err error) {
	name, raw := o.first(names...)
	if raw == nil {
		return 0, false, nil
	}
	v, err = parseInt(raw)
	if err != nil {
		return 0, false, fmt.Errorf("field %q: %w", name, err)
	}
	return v, true, nil
}

func parseInt(raw json.RawMessage) (int64, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		s = strings.TrimSpace(s)
	} else {
		s = string(bytes.TrimSpace(raw))
	}
	if s == "" {
		return 0, fmt.Errorf("not a number")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	// 3600.0 or 3.6e3
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		return 0, fmt.Errorf("not a number")
	}
	return int64(f), nil
}

// bool reads an optional boolean sent as true/false or "true"/"false".
func (o object) bool(names ...string) (v bool, present bool, err error) {
	name, raw := o.first(names...)
	if raw == nil {
		return false, false, nil
	}
	if err := json.Unmarshal(raw, &v); err == nil {
		return v, true, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, true, nil
		case "false":
			return false, true, nil
		}
	}
	return false, false, fmt.Errorf("field %q: not a boolean", name)
}

// sub reads an optional nested object.
func (o object) sub(name string) (object, bool, error) {
	raw, ok := o[name]
	if !ok || isNull(raw) {
		return nil, false, nil
	}
	var s object
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false, fmt.Errorf("field %q: not an object", name)
	}
	return s, true, nil
}

// parseLastUsed reads lastUsedDate, whose format CXone does not document:
// RFC 3339 with or without fraction or offset, a naive datetime taken as
// UTC, or epoch milliseconds. Anything else keeps only the raw text.
func parseLastUsed(raw json.RawMessage) (*time.Time, string) {
	if isNull(raw) {
		return nil, ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(bytes.TrimSpace(raw))
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, ""
	}
	raw2 := s
	if len(raw2) > 64 {
		raw2 = raw2[:64]
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, raw2
		}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms > 0 && ms < 1<<50 {
		t := time.UnixMilli(ms).UTC()
		return &t, raw2
	}
	return nil, raw2
}

// checkCredential enforces the contract's only rule for key ids and
// secrets: non-empty, at most 256 printable characters. The value is never
// quoted in the error.
func checkCredential(field, v string) error {
	if v == "" {
		return fmt.Errorf("field %q: empty", field)
	}
	if len(v) > 256 {
		return fmt.Errorf("field %q: longer than 256 characters", field)
	}
	for _, r := range v {
		if r < 0x21 || r > 0x7e {
			return fmt.Errorf("field %q: not printable", field)
		}
	}
	return nil
}
