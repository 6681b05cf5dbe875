package web

// KeyDetailView is one key's own page: every field the list shortens.
type KeyDetailView struct {
	Tenant string
	Region string
	Key    KeyRow
}
