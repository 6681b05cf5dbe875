package web

// RotationView is the rotation wizard.
type RotationView struct {
	ID       string
	OldKeyID string
	NewKeyID string
	OldLabel string
	NewLabel string
	Step     string // created, deployed, verified, old_deactivated, done
	Error    string
	// ConfirmLast4 is what the person types to confirm deleting the old
	// key: its id's last four characters before the base32 padding
	// (keys.DeleteConfirmation).
	ConfirmLast4 string
}

// Done reports whether the rotation is complete.
func (v RotationView) Done() bool { return v.Step == "done" }
