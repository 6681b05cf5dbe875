package web

// ActivityView is the admins' key history: one tenant's actions in one
// area, one row per action, a page at a time.
type ActivityView struct {
	Tenant, Region string
	Rows           []ActionRowView
	Reads          bool   // key lists and lookups are shown
	ReadsURL       string // the same page with reads switched the other way
	OlderURL       string
	NewerURL       string
	NewestURL      string
}

// KeyHistoryTitle is the admins' page title: "Activity" alone was also the
// reviewers' chart page.
func KeyHistoryTitle(tenant string) string { return "Key history for " + tenant }
