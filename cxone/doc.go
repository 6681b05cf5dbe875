// Package cxone is Keyport's client for the NICE CXone access-key API, built
// from shared/cxone-api.md and nothing more: it accepts every variant that
// contract lists and refuses anything else with a typed *Error.
//
// Every credential (basic token, bearer, refresh token, id token, access-key
// secret) enters and leaves this package as a secret.Secret. Response bodies
// are never logged, and no error text carries a token, secret or request body.
//
// The package knows nothing of Keyport's storage or HTTP layer; it imports
// only the standard library, golang-jwt and internal/secret.
package cxone
