package web

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
