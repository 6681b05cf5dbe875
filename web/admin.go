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

// CreatedView is the one-time secret page.
type CreatedView struct {
	KeyID        string
	Secret       string
	EnvAction    string // POST the secret back for a .env download
	VerifyAction string // POST the secret back to verify the key
	Rotation     string // rotation wizard URL, when part of one
}

// ConfirmView is a confirmation step before a destructive action.
type ConfirmView struct {
	Title    string
	Question string
	Warning  string
	Action   string
	Button   string
	Danger   bool
	KeyID    string
	Cancel   string
}

// VerifyView is the verify form.
type VerifyView struct {
	KeyID  string
	Action string
	Error  string
}

// LookupView is the leaked-secret lookup.
type LookupView struct {
	Searched bool
	Found    bool
	Row      KeyRow
	Error    string
}

// ActivityRow is one audit event in the tenant activity view.
type ActivityRow struct {
	ID, Time, Actor, Action, Key, Outcome, Status, Message string
}

// ActivityView is the tenant activity page.
type ActivityView struct {
	Tenant, Region string
	Rows           []ActivityRow
}

// RotationView is the rotation wizard.
type RotationView struct {
	ID       string
	OldKeyID string
	NewKeyID string
	Step     string // created, deployed, verified, old_deactivated, done
	Error    string
}
