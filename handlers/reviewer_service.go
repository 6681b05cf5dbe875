package handlers

import "github.com/keyport/keyport/internal/reviewer"

// reviewerService is the reviewers' service app.New built (with the TOTP
// sealer under KEYPORT_ENCRYPTION_KEY). Tests that build Deps by hand get
// one without TOTP.
func (h *Handlers) reviewerService() *reviewer.Service {
	if h.Reviewers != nil {
		return h.Reviewers
	}
	return reviewer.New(h.Pool, h.Audit, nil, reviewer.Options{Log: h.Log})
}
