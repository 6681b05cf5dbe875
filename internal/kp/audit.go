package kp

import "time"

// ActorKind says who acted.
type ActorKind string

// A security reviewer's kind and actions keep the role's old name,
// "auditor", as their values (actor kind "auditor", actions "auditor.add",
// "auditor.login"…): those values are inside the hash-chained, append-only
// trail, where no row can be rewritten without breaking the chain, and in
// the exports people parse. Only the Go names say "reviewer".
const (
	ActorAdmin    ActorKind = "admin"
	ActorReviewer ActorKind = "auditor" // a security reviewer (value: see above)
	ActorSystem   ActorKind = "system"
)

// Action is the closed set of audited actions; the database enforces the
// same set with a CHECK constraint.
type Action string

const (
	Connect               Action = "connect"
	Disconnect            Action = "disconnect"
	TokenRefresh          Action = "token.refresh"
	KeyList               Action = "key.list"
	KeyCreate             Action = "key.create"
	KeyActivate           Action = "key.activate"
	KeyDeactivate         Action = "key.deactivate"
	KeyDelete             Action = "key.delete"
	KeyVerify             Action = "key.verify"
	KeyLookup             Action = "key.lookup"
	KeyReconcile          Action = "key.reconcile"
	KeyRotate             Action = "key.rotate"
	ReviewerAdd           Action = "auditor.add" // reviewers' actions keep "auditor." (see ActorReviewer)
	ReviewerDisable       Action = "auditor.disable"
	ReviewerEnable        Action = "auditor.enable"
	ReviewerResetPassword Action = "auditor.reset_password"
	ReviewerLogin         Action = "auditor.login"
	ReviewerLogout        Action = "auditor.logout"
	AuditView             Action = "audit.view"
	AuditExport           Action = "audit.export"
	AuditVerify           Action = "audit.verify"
	AuditCheckpoint       Action = "audit.checkpoint"
	AuditSeed             Action = "audit.seed"
	AuditArchive          Action = "audit.archive"
	// KeysRekey is `keyport rekey`: every sealed value re-encrypted under
	// the newest encryption key, one event with the counts.
	KeysRekey Action = "keys.rekey"
	// PolicySet is a reviewer (or `keyport policy set`) changing a key
	// policy; PolicyViolation and PolicyResolved are a violation's start and
	// end as Keyport first saw them (issue 25), each recorded once.
	PolicySet       Action = "policy.set"
	PolicyViolation Action = "policy.violation"
	PolicyResolved  Action = "policy.resolved"
	// KeySeenOutside is Keyport first seeing a key made outside it.
	KeySeenOutside Action = "key.seen_outside"
	// AuditSinkFailing is a sink or notification target failing for longer
	// than KEYPORT_NOTIFY_SINK_MINUTES, once per outage.
	AuditSinkFailing Action = "audit.sink_failing"
)

// Actions lists every action, for filters and validation.
var Actions = []Action{Connect, Disconnect, TokenRefresh, KeyList, KeyCreate, KeyActivate, KeyDeactivate,
	KeyDelete, KeyVerify, KeyLookup, KeyReconcile, KeyRotate, ReviewerAdd, ReviewerDisable, ReviewerEnable,
	ReviewerResetPassword, ReviewerLogin, ReviewerLogout, AuditView, AuditExport, AuditVerify, AuditCheckpoint, AuditSeed,
	AuditArchive, KeysRekey, PolicySet, PolicyViolation, PolicyResolved, KeySeenOutside, AuditSinkFailing}

// Outcome is what became of an action.
type Outcome string

const (
	OutcomeIntent  Outcome = "intent"
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
	OutcomeUnknown Outcome = "unknown"
	OutcomeDenied  Outcome = "denied"
)

// Outcomes lists every outcome.
var Outcomes = []Outcome{OutcomeIntent, OutcomeSuccess, OutcomeFailure, OutcomeUnknown, OutcomeDenied}

// Region is a CXone area ("na1", "au1", ...).
type Region string

// AuditEvent is one row of audit_events.
type AuditEvent struct {
	ID             int64
	OccurredAt     time.Time
	ActorKind      ActorKind
	ActorUserID    string
	ActorName      string
	TenantID       string
	TenantName     string
	Region         Region
	SessionHash    string
	ClientIP       string
	UserAgent      string
	Action         Action
	TargetKeyID    string
	Outcome        Outcome
	UpstreamStatus *int32
	ErrorMessage   string
	RequestID      string
	IntentID       *int64
	Details        string // jsonb as Postgres prints it: the form the hash covers
	HashVersion    int16
	PrevHash       []byte
	Hash           []byte
}

// AuditFilter narrows the reviewers' event list. Zero fields do not filter;
// set fields combine with AND. Strings match exactly, except Text, which is
// a case-insensitive substring of the error message.
type AuditFilter struct {
	From, To    time.Time // From inclusive, To exclusive; zero = open
	TenantID    string
	Region      Region
	ActorUserID string
	Action      Action
	Outcome     Outcome
	KeyID       string
	RequestID   string
	Text        string
}

// AuditPage is one page of the event list, newest first. The list is
// ordered by id, the chain's own order, so keyset paging on id has no gaps
// or repeats however many events arrive meanwhile (new ones only ever get
// larger ids).
type AuditPage struct {
	Events []AuditEvent
	// Older is the id to pass as Before for the next (older) page, 0 if none.
	Older int64
	// Newer is the id to pass as After for the previous (newer) page, 0 if none.
	Newer int64
}

// AuditLink says whether one event's stored hash matches its content and
// previous hash, and whether its previous hash is its predecessor's hash.
type AuditLink struct {
	HashMatches   bool
	PrevMatches   bool
	PredecessorID int64 // 0 for the first event
}

// AuditDayCount is the number of events with one outcome on one UTC day.
type AuditDayCount struct {
	Day     time.Time // midnight UTC
	Outcome Outcome
	Events  int64
}

// VerifyRun is one "verify now" run of the integrity panel.
type VerifyRun struct {
	ID          int64
	StartedAt   time.Time
	StartedBy   string
	HeartbeatAt time.Time
	FinishedAt  *time.Time
	Status      string // running, verified, broken, error, abandoned
	Events      int64
	Total       int64
	Result      string
}
