package web

// ConnectView is the connect page.
type ConnectView struct {
	Regions     []string
	Region      string
	Next        string
	Error       string // a sentence for the user; the token field is never refilled
	AccessError string
	Connections []ConnOption
}
