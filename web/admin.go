package web

// KeyRow is one key in the keys table: display-ready strings.
type KeyRow struct {
	ID           string
	State        string // "active", "inactive" or "unknown"
	Owner        string
	Label        string
	CreatedBy    string
	Created      string
	Age          string
	LastUsed     string
	LastVerified string
	VerifyResult string
	Stale        string // "" or why
	Outside      bool   // created outside Keyport
	SecretLast4  string
	SecretLost   bool
	Rotation     string // URL of an unfinished rotation, or ""
}

// PendingRow is a create whose outcome is not known yet.
type PendingRow struct {
	Label, Owner, State, Since string
	Candidates                 []string
}

// KeysView is the keys page.
type KeysView struct {
	Tenant             string
	Region             string
	Rows               []KeyRow
	Pending            []PendingRow
	Owners             []string
	Filter             string
	OwnOnly            bool
	CanCreateForOthers bool
	FormToken          string
	Label              string
	Error              string
	PossiblyIncomplete bool
	Notices            []string
	ListError          string // the keys could not be listed; the page says why
}
