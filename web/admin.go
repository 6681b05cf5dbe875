package web

// KeyRow is one key in the keys table (and on its own page): display-ready
// strings.
type KeyRow struct {
	ID           string
	State        string // "active", "inactive" or "unknown"
	Owner        string // the owner's name (Person.String), never a bare UUID
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
	// Violations are the key policy rules the key breaks, each with the
	// one-click way to mend it; AsOf says when Keyport last saw the list.
	Violations []PolicyBadge
	AsOf       string
}

// PolicyBadge is one key policy rule a key breaks.
type PolicyBadge struct {
	Rule   string // max_age, max_idle
	Text   string // "older than the 90-day policy: rotate it"
	Action string // the rotation wizard (age) or the deactivate page (idle)
	Do     string // the action's words
}

// PendingRow is a create whose outcome is not known yet.
type PendingRow struct {
	Label, State, Since string
	Owner               string   // Person.String
	Candidates          []string // full key ids; the page shortens them
}

// KeysView is the keys page.
type KeysView struct {
	Tenant             string
	Region             string
	Rows               []KeyRow
	Pending            []PendingRow
	Owners             []Person // users whose keys the list holds, for the pickers
	Filter             string
	OwnOnly            bool
	CanCreateForOthers bool
	FormToken          string
	Label              string
	Error              string
	PossiblyIncomplete bool
	Notices            []string
	ListError          string // the keys could not be listed; the page says why
	// NoAccess: CXone refused even the user's own keys (neither "Access
	// Key" nor "My Access Key"). The page says what the role lacks and what
	// is left to do, instead of a form CXone would refuse.
	NoAccess bool
	You      string // the connected user, for NoAccess's explanation
	// Disconnect is the current connection's disconnect action.
	Disconnect string
}
