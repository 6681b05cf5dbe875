package connection

import "github.com/keyport/keyport/cxone"

// areaNames reads the built-in area codes as people say them. They name
// where an area's code says it is (na = North America, eu = Europe …),
// never a data centre: no CXone document Keyport has says more.
var areaNames = map[cxone.Region]string{
	"na1": "North America",
	"na2": "North America, second area",
	"au1": "Australia",
	"eu1": "Europe",
	"uk1": "United Kingdom",
	"ca1": "Canada",
	"jp1": "Japan",
}

// Area is an area as the connect page lists it.
type Area struct {
	Code cxone.Region
	Name string // "" for an area added by configuration
	URL  string // the CXone address of the area, as configured
}

// Areas lists the areas Keyport knows, with their names and addresses, so
// an admin can match the address they sign in at to an area.
func (s *Service) Areas() []Area {
	var out []Area
	for _, r := range s.Regions() {
		u, _ := s.cx.BaseURL(r) // r comes from the client's own table
		out = append(out, Area{Code: r, Name: areaNames[r], URL: u})
	}
	return out
}

// AreaLabel is "na1 (North America)", or the bare code for an area without
// a name.
func AreaLabel(r cxone.Region) string {
	if n := areaNames[r]; n != "" {
		return string(r) + " (" + n + ")"
	}
	return string(r)
}
