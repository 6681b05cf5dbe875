package web

// RotationView is the rotation wizard.
type RotationView struct {
	ID       string
	OldKeyID string
	NewKeyID string
	Step     string // created, deployed, verified, old_deactivated, done
	Error    string
}
