package handlers

import "github.com/keyport/keyport/internal/auditor"

// auditorService builds the reviewers' service from Deps.
//
// TODO(lead): Deps carries no KEYPORT_ENCRYPTION_KEY, so the TOTP sealer is
// nil here: accounts created with --totp cannot sign in on the web until
// Deps passes a sealer (auditor.NewTOTPSealer(cfg.EncryptionKey)) or a
// ready *auditor.Service. See docs/auditing.md.
func (h *Handlers) auditorService() *auditor.Service {
	return auditor.New(h.Pool, h.Audit, nil, auditor.Options{Log: h.Log})
}
