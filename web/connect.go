package web

// ConnectView is the connect page.
type ConnectView struct {
	Areas       []AreaOption
	Region      string // the area chosen; kept on every re-render
	Next        string
	Error       string // a sentence for the user; the token field is never refilled
	RetryArea   string // the area a refused token is for, offered as a retry; "" when unknown
	RetryURL    string // the connect page with RetryArea chosen
	AccessError string
	Connections []ConnOption
}

// AreaOption is one CXone area in the area list.
type AreaOption struct {
	Code  string // "na1": the form value
	Label string // "na1 — North America", or the bare code
	URL   string // the area's CXone address, to match against the one the admin signs in at
}
