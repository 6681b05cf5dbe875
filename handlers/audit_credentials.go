package handlers

import (
	"bufio"
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/csvsafe"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/policy"
	"github.com/keyport/keyport/web"
)

// credentialsShown is how many report rows the page shows; the CSV has them all.
const credentialsShown = 500

// credentialFilter reads the report's filters (already checked by the
// input boundary) and what the audit record says of them.
func (r *auditUI) credentialFilter(q url.Values) (kp.CredentialFilter, map[string]string) {
	on := func(name string) bool { return q.Get(name) == "1" }
	f := kp.CredentialFilter{Region: q.Get("area"), Tenant: q.Get("tenant"), Owner: strings.TrimSpace(q.Get("owner")),
		State: q.Get("key_state"), Stale: on("stale"), Outside: on("outside"), NeverVerified: on("never_verified"),
		SecretLost: on("secret_lost"), Gone: q.Get("gone"), StaleBefore: time.Now().Add(-r.h.Keys.StaleAfter()),
		Violation: q.Get("violation")}
	switch f.State {
	case "", "active", "inactive", "unknown":
	default:
		f.State = ""
	}
	switch f.Gone {
	case "", "yes", "all":
	default:
		f.Gone = ""
	}
	switch f.Violation {
	case "", "any", kp.RuleMaxAge, kp.RuleMaxIdle:
	default:
		f.Violation = ""
	}
	rec := map[string]string{}
	for _, k := range []string{"area", "tenant", "owner", "key_state", "stale", "outside", "never_verified", "secret_lost", "gone", "violation"} {
		if v := q.Get(k); v != "" {
			rec[k] = v
		}
	}
	return f, rec
}

// credentials is the credential report: every access key Keyport has seen,
// across tenants and areas, as of each tenant's last full list.
func (r *auditUI) credentials(c echo.Context) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	f, rec := r.credentialFilter(c.QueryParams())
	v := web.CredentialsView{Filter: web.CredentialFilterView{Area: f.Region, Tenant: f.Tenant, Owner: f.Owner, State: f.State,
		Stale: f.Stale, Outside: f.Outside, NeverVerified: f.NeverVerified, SecretLost: f.SecretLost, Gone: f.Gone,
		Violation: f.Violation},
		CSV: "/audit/credentials.csv?" + c.QueryParams().Encode(), StaleDays: strconv.Itoa(int(r.h.Keys.StaleAfter().Hours() / 24))}
	err = r.trail.Credentials(c.Request().Context(), rv.Reviewer, f, rec, "html", func(k *kp.Credential) error {
		if len(v.Rows) == credentialsShown {
			v.More = true
			return errStopScan
		}
		v.Rows = append(v.Rows, credentialRow(k))
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return err
	}
	return r.h.render(c, http.StatusOK, web.AuditCredentials(r.reviewerPage(c, rv, "Credential report"), v))
}

// errStopScan ends a scan once the page has its rows.
var errStopScan = errors.New("enough rows")

// credentialColumns are the CSV's columns, AWS credential report style.
var credentialColumns = []string{"tenant_id", "tenant_name", "area", "access_key_id", "owner_id", "owner_name", "label",
	"state", "created_at", "created_by", "age_days", "last_used", "last_verified", "last_verify_result", "stale",
	"created_outside_keyport", "secret_lost", "first_seen", "last_seen", "gone_at", "as_of",
	"policy_violations", "violating_since"}

// credentialsCSV streams the whole report (or its filtered part) as CSV,
// through csvsafe like every CSV Keyport writes: labels and names are
// chosen by tenant admins, and a reviewer opens the file in a spreadsheet.
func (r *auditUI) credentialsCSV(c echo.Context) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	f, rec := r.credentialFilter(c.QueryParams())
	if err := r.h.saveSessions(c); err != nil {
		return err
	}
	res := c.Response()
	var buf *bufio.Writer
	var w *csvsafe.Writer
	started := false
	begin := func() {
		started = true
		res.Header().Set("Content-Type", "text/csv; charset=utf-8")
		res.Header().Set("Content-Disposition", `attachment; filename="keyport-credentials-`+time.Now().UTC().Format("20060102T150405Z")+`.csv"`)
		res.WriteHeader(http.StatusOK)
		buf = bufio.NewWriterSize(res, 32<<10)
		w = csvsafe.NewWriter(buf)
		_ = w.Write(credentialColumns)
	}
	now := time.Now()
	err = r.trail.Credentials(c.Request().Context(), rv.Reviewer, f, rec, "csv", func(k *kp.Credential) error {
		if !started {
			begin()
		}
		return w.Write(credentialRecord(k, now))
	})
	if err != nil && !started {
		return err
	}
	if err != nil {
		r.h.Log.ErrorContext(c.Request().Context(), "credential report failed mid-stream", "err", err)
		panic(http.ErrAbortHandler)
	}
	if !started {
		begin()
	}
	return buf.Flush()
}

func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// credentialState is the report page's state: gone, or the state CXone
// last listed.
func credentialState(k *kp.Credential) string {
	if k.GoneAt != nil {
		return "gone"
	}
	return listedState(k)
}

// listedState is the state CXone last listed (the CSV's state column; its
// gone_at column says whether the key is gone).
func listedState(k *kp.Credential) string {
	switch {
	case k.Active == nil:
		return "unknown"
	case *k.Active:
		return "active"
	}
	return "inactive"
}

func credentialRecord(k *kp.Credential, now time.Time) []string {
	age := ""
	if born := k.CreatedAt; born != nil || !k.FirstSeen.IsZero() {
		if born == nil {
			born = &k.FirstSeen
		}
		age = strconv.Itoa(int(now.Sub(*born).Hours() / 24))
	}
	b := strconv.FormatBool
	return []string{k.TenantID, k.TenantName, k.Region, k.KeyID, k.OwnerID, k.OwnerName, k.Label, listedState(k),
		stamp(k.CreatedAt), k.CreatedBy, age, stamp(k.LastUsed), stamp(k.LastVerified), k.VerifyResult, b(k.Stale),
		b(k.CreatedAt == nil), b(k.SecretLost), stamp(&k.FirstSeen), stamp(&k.LastSeen), stamp(k.GoneAt), stamp(k.AsOf),
		strings.Join(violationCodes(k), ";"), stamp(k.ViolatingSince)}
}

// violationCodes are a key's violations as the CSV has them: the rule and
// its limit, "max_age>90d".
func violationCodes(k *kp.Credential) []string {
	out := make([]string, len(k.Violations))
	for i, rule := range k.Violations {
		out[i] = rule + ">" + strconv.Itoa(int(k.ViolationLimits[i])) + "d"
	}
	return out
}

// violationTexts are a key's violations as the page says them.
func violationTexts(k *kp.Credential) []string {
	out := make([]string, len(k.Violations))
	for i, rule := range k.Violations {
		out[i] = policy.BadgeText(rule, int(k.ViolationLimits[i]))
	}
	return out
}

func credentialRow(k *kp.Credential) web.CredentialRow {
	owner := k.OwnerName
	if owner == "" {
		owner = web.ShortID(k.OwnerID) + " (name unknown to Keyport)"
	}
	return web.CredentialRow{Tenant: cmp.Or(k.TenantName, k.TenantID), Area: k.Region, KeyID: k.KeyID, ShortID: web.ShortID(k.KeyID),
		Owner: owner, Label: k.Label, State: credentialState(k), Created: cmp.Or(listTimeP(k.CreatedAt), "outside Keyport"),
		CreatedBy: k.CreatedBy, LastUsed: cmp.Or(listTimeP(k.LastUsed), "never"), LastVerified: listTimeP(k.LastVerified),
		VerifyResult: k.VerifyResult, Stale: k.Stale, Outside: k.CreatedAt == nil, SecretLost: k.SecretLost,
		LastSeen: listTime(k.LastSeen), AsOf: listTimeP(k.AsOf), Violations: violationTexts(k)}
}

func listTimeP(t *time.Time) string {
	if t == nil {
		return ""
	}
	return listTime(*t)
}
