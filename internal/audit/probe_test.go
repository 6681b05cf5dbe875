package audit

import "github.com/keyport/keyport/internal/kp"

// SetCommitProbe makes w report each write's rows with the
// synchronous_commit its transaction ran under (tests only).
func SetCommitProbe(w *Writer, probe func(rows []*kp.AuditEvent, setting string)) {
	w.group.probe = probe
}
