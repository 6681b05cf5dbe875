package keys

import "github.com/keyport/keyport/internal/kp"

// createForbidden is CXone's 403 to a create, in words: CXone's own text
// ("does not have the privilege required …") names no privilege, so the
// person would not know what to ask their CXone administrator for. The
// audit outcome keeps CXone's status and message.
func createForbidden(err error) error {
	return &kp.Error{Kind: kp.Forbidden, Err: err, Message: "CXone refused to create the key: this user's CXone role " +
		"lacks the privilege to create access keys (\"My Access Key\" for their own keys, \"Access Key\" for other users'). " +
		"A CXone administrator can add it to the role; until then the keys listed below can still be viewed here."}
}
