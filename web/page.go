// Package web holds Keyport's templ components. Components take plain view
// models filled by handlers: never database rows, never echo.Context, and no
// clock or I/O of their own.
package web

// AssetURLs resolves an embedded asset name to its content-hashed URL.
type AssetURLs interface {
	URL(name string) string
}

// Flash is a one-time message shown at the top of the next page.
type Flash struct {
	Kind    string // "success", "warning" or "error"
	Message string
}

// NavItem is one link in the header.
type NavItem struct {
	Label, Href string
	Current     bool
}

// Page is what the layout needs from every handler.
type Page struct {
	Title    string
	Nav      []NavItem
	Identity string // "user · tenant · area"; "" when nobody is signed in
	// Connections feed the header's switcher (admin pages).
	Connections []ConnOption
	// SignedIn shows a sign-out button posting to SignOutURL.
	SignedIn   bool
	SignOutURL string
	// Account links the signed-in person's own pages (a reviewer's sessions,
	// a local reviewer's Change password), beside Sign out.
	Account []NavItem
	Flashes []Flash
	// ReadNote says where a reviewer's page read the trail from when that
	// matters: a lagging replica ("as of …") or the primary instead of it.
	ReadNote  string
	Version   string
	RequestID string
	Assets    AssetURLs
}

// ConnOption is one connection in the header's switcher.
type ConnOption struct {
	ID, Label string
	Current   bool
	Expired   bool
}
