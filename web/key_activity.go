package web

// ActivityRow is one audit event in the tenant activity view.
type ActivityRow struct {
	ID, Time, Actor, Action, Key, Outcome, Status, Message string
}

// ActivityView is the tenant activity page.
type ActivityView struct {
	Tenant, Region string
	Rows           []ActivityRow
}
