package cxone

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/keyport/keyport/internal/kp"
)

// Region is a CXone area ("na1", "au1", ...): Keyport's own word for it,
// named here too so the client reads on its own.
type Region = kp.Region

// ErrUnknownRegion is returned, before any network call, for an area that
// is neither in the built-in table nor added by Config.Areas.
var ErrUnknownRegion = errors.New("cxone: unknown region")

// defaultAreas is cxone-api.md §2. The hosts differ (nice-incontact.com
// with a hyphen for na1/au1 only), so they are listed, never derived.
var defaultAreas = map[Region]string{
	"na1": "https://na1.nice-incontact.com",
	"au1": "https://au1.nice-incontact.com",
	"eu1": "https://eu1.niceincontact.com",
	"na2": "https://na2.niceincontact.com",
	"uk1": "https://uk1.niceincontact.com",
	"ca1": "https://ca1.niceincontact.com",
	"jp1": "https://jp1.niceincontact.com",
}

// DefaultAreas returns a copy of the built-in area table.
func DefaultAreas() map[Region]string { return maps.Clone(defaultAreas) }

// Regions returns the known areas, sorted.
func (c *Client) Regions() []Region {
	return slices.Sorted(maps.Keys(c.areas))
}

// BaseURL returns the UserHub/auth base URL of area r, without a trailing
// slash. With a URL template, the template (with {region} replaced) is the
// base for every known area.
func (c *Client) BaseURL(r Region) (string, error) {
	base, ok := c.areas[r]
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownRegion, sanitizeRegion(r))
	}
	if c.urlTemplate != "" {
		return strings.TrimRight(strings.ReplaceAll(c.urlTemplate, "{region}", string(r)), "/"), nil
	}
	return strings.TrimRight(base, "/"), nil
}

func sanitizeRegion(r Region) string {
	s := Sanitize(string(r))
	if len(s) > 16 {
		s = s[:16]
	}
	return s
}
