package handlers

import "github.com/keyport/keyport/internal/auditor"

// auditorService is the reviewers' service app.New built (with the TOTP
// sealer under KEYPORT_ENCRYPTION_KEY). Tests that build Deps by hand get
// one without TOTP.
func (h *Handlers) auditorService() *auditor.Service {
	if h.Auditors != nil {
		return h.Auditors
	}
	return auditor.New(h.Pool, h.Audit, nil, auditor.Options{Log: h.Log})
}
