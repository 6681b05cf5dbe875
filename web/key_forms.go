package web

// CreatedView is the one-time secret page. It is also the answer to
// "Verify it now" sent from that page, so the secret stays on screen until
// the person says it is saved.
type CreatedView struct {
	KeyID        string
	Label        string
	Secret       string
	EnvAction    string // POST the secret back for a .env download
	VerifyAction string // POST the secret back to verify the key, answered on this page
	Rotation     string // rotation wizard URL, when part of one
	RotationID   string // the same rotation, carried by the verify form
	Done         string // where "Done" goes once the secret is saved: the keys page or the wizard
	// Verified is set after "Verify it now": CXone's answer, shown inline.
	Verified *VerifyOutcome
}

// VerifyOutcome is a verification's answer shown on the page that asked.
type VerifyOutcome struct {
	Works   bool
	Message string
	Warning string
}

// KeyFacts is what a confirmation shows about the key it acts on.
type KeyFacts struct {
	ID        string
	Label     string
	Owner     string
	State     string // active, inactive, unknown
	LastUsed  string
	Created   string
	CreatedBy string
	Outside   bool // created outside Keyport: Keyport has no notes on it
}

// ConfirmView is a confirmation step before a destructive action.
type ConfirmView struct {
	Title    string
	Question string
	Warning  string
	Action   string
	Button   string
	Danger   bool
	Key      KeyFacts
	Cancel   string
	// TypeLast4, when set, is what the person must type into the confirm
	// field (the key id's last four characters before the base32 padding,
	// keys.DeleteConfirmation) before the action runs.
	TypeLast4 string
	Error     string
}

// VerifyView is the verify form.
type VerifyView struct {
	KeyID  string
	Label  string
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

// lastFourOf says whose id the typed confirmation comes from, naming the key
// by its label so two confirmations can be told apart at a glance.
func lastFourOf(label, unlabelled string) string {
	if label == "" {
		return "the last four characters of the id of " + unlabelled
	}
	return "the last four characters of the id of “" + label + "”"
}
