package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/policy"
	"github.com/keyport/keyport/web"
)

// policies shows the key policies (issue 25): the global one and every
// tenant's overrides, with the form that sets one.
func (r *auditUI) policies(c echo.Context) error {
	return r.policiesPage(c, http.StatusOK, web.PolicyForm{}, "")
}

func (r *auditUI) policiesPage(c echo.Context, status int, form web.PolicyForm, msg string) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	rows, err := r.h.Keys.Policies().Settings(c.Request().Context())
	if err != nil {
		return err
	}
	v := web.PoliciesView{Form: form, Error: msg, Saved: c.QueryParam("saved") != "" && msg == ""}
	for _, s := range rows {
		v.Rows = append(v.Rows, policyRow(s))
	}
	return r.h.render(c, status, web.AuditPolicies(r.reviewerPage(c, rv, "Key policies"), v))
}

func policyRow(s kp.PolicySetting) web.PolicyRow {
	unset := "no rule"
	if s.TenantID != "" {
		unset = "as global"
	}
	days := func(v *int, unit string) string {
		switch {
		case v == nil:
			return unset
		case *v == 0:
			return "no rule"
		}
		return strconv.Itoa(*v) + unit
	}
	row := web.PolicyRow{Tenant: s.TenantID, MaxAge: days(s.MaxAgeDays, " days"), MaxIdle: days(s.MaxIdleDays, " days"),
		MaxActive: days(s.MaxActivePerUser, ""), Label: unset, By: s.UpdatedBy}
	if s.TenantID == "" {
		row.Tenant = "every tenant (global)"
	}
	if s.LabelRequired != nil {
		row.Label = map[bool]string{true: "required", false: "not required"}[*s.LabelRequired]
	}
	if !s.UpdatedAt.IsZero() {
		row.Updated = listTime(s.UpdatedAt)
	}
	return row
}

// policySet stores one policy row from the form: the global one when the
// tenant is empty. For a tenant, an empty rule follows the global policy
// and 0 lifts it there; globally, empty and 0 both mean no rule.
func (r *auditUI) policySet(c echo.Context) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	form := web.PolicyForm{Tenant: strings.TrimSpace(c.FormValue("policy_tenant")), MaxAge: c.FormValue("max_age_days"),
		MaxIdle: c.FormValue("max_idle_days"), MaxActive: c.FormValue("max_active_per_user"), Label: c.FormValue("label_required")}
	st, err := parsePolicyForm(form)
	if err == nil {
		err = inputError(c)
	}
	if err == nil {
		actor := audit.Actor{Kind: kp.ActorReviewer, UserID: rv.Reviewer.Username, Name: rv.Reviewer.Username}
		err = r.h.Keys.Policies().Set(c.Request().Context(), actor, rv.Reviewer.Scope, st)
	}
	if err != nil {
		msg, ok := formError(err)
		if !ok {
			return err
		}
		return r.policiesPage(c, statusFor(err), form, msg)
	}
	return r.h.redirect(c, "/audit/policies?saved=1")
}

// parsePolicyForm reads the form's rules (see policySet).
func parsePolicyForm(f web.PolicyForm) (kp.PolicySetting, error) {
	st := kp.PolicySetting{TenantID: f.Tenant}
	num := func(v, what string, max int) (*int, error) {
		if strings.TrimSpace(v) == "" {
			return nil, nil
		}
		n, err := policy.ParseDays(v, what, max)
		return &n, err
	}
	var err error
	if st.MaxAgeDays, err = num(f.MaxAge, "max key age", policy.MaxDays); err != nil {
		return st, err
	}
	if st.MaxIdleDays, err = num(f.MaxIdle, "max idle days", policy.MaxDays); err != nil {
		return st, err
	}
	if st.MaxActivePerUser, err = num(f.MaxActive, "max active keys per user", policy.MaxActive); err != nil {
		return st, err
	}
	if strings.TrimSpace(f.Label) != "" {
		b, err := policy.ParseBool(f.Label)
		if err != nil {
			return st, err
		}
		st.LabelRequired = &b
	}
	return st, nil
}
