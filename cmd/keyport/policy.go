package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/logging"
	"github.com/keyport/keyport/internal/policy"
)

const policyUsage = `policy show [--tenant ID]
       keyport policy set [--tenant ID] [--max-age-days N] [--max-idle-days N] [--max-active-per-user N] [--label-required=true|false]

  show  the global key policy and every tenant's overrides (--tenant: that tenant's row and the
        policy in force there)
  set   changes the global policy, or with --tenant that tenant's overrides; only the flags given
        change. 0 or an empty value lifts a rule (for a tenant: lifts it there); "inherit" makes a
        tenant's rule follow the global one again. Audited as policy.set; every tenant's keys, as
        Keyport last saw them, are then checked against it.

Needs KEYPORT_DATABASE_URL and KEYPORT_AUDIT_KEY.`

func cmdPolicy(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "policy", policyUsage)
	tenant := fs.String("tenant", "", "a tenant id: its overrides instead of the global policy")
	maxAge := fs.String("max-age-days", "", "keys older than this many days break the policy (0: no rule)")
	maxIdle := fs.String("max-idle-days", "", "keys unused for this many days break the policy (0: no rule)")
	maxActive := fs.String("max-active-per-user", "", "creates beyond this many active keys per user are refused (0: no rule)")
	label := fs.String("label-required", "", "true: creates without a label are refused")
	src := config.Register(fs, devGetenv(e), config.DatabaseURL, config.AuditKey)
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if (sub != "show" && sub != "set") || fs.NArg() != 0 {
		fs.Usage()
		return usageError(errors.New("policy: want: show or set"))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	cfg, err := src.Load()
	if err != nil {
		return usageError(err)
	}
	pool, w, err := openTrail(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	svc := policy.New(pool, w, logging.New(e.stderr, "text", nil), time.Now)
	if sub == "set" {
		st, err := svc.Setting(ctx, *tenant)
		if err != nil {
			return err
		}
		st.TenantID = *tenant
		for _, r := range []struct {
			flag, what string
			max        int
			v          string
			dst        **int
		}{{"max-age-days", "max key age", policy.MaxDays, *maxAge, &st.MaxAgeDays},
			{"max-idle-days", "max idle days", policy.MaxDays, *maxIdle, &st.MaxIdleDays},
			{"max-active-per-user", "max active keys per user", policy.MaxActive, *maxActive, &st.MaxActivePerUser}} {
			if !given[r.flag] {
				continue
			}
			if r.v == "inherit" && *tenant != "" {
				*r.dst = nil
				continue
			}
			n, err := policy.ParseDays(r.v, r.what, r.max)
			if err != nil {
				return usageError(fmt.Errorf("--%s: %s", r.flag, kp.MessageOf(err)))
			}
			*r.dst = &n
		}
		if given["label-required"] {
			if *label == "inherit" && *tenant != "" {
				st.LabelRequired = nil
			} else {
				b, err := policy.ParseBool(*label)
				if err != nil {
					return usageError(fmt.Errorf("--label-required: %s", kp.MessageOf(err)))
				}
				st.LabelRequired = &b
			}
		}
		actor := audit.Actor{Kind: kp.ActorSystem, UserID: "keyport policy", Name: "command line"}
		if u := e.getenv("USER"); u != "" {
			actor.Name = "command line, OS user " + u
		}
		if err := svc.Set(ctx, actor, audit.Scope{}, st); err != nil {
			return err
		}
	}
	return policyShow(ctx, e, svc, *tenant)
}

// policyShow prints the stored rows (or one tenant's) and, for a tenant,
// the policy in force there.
func policyShow(ctx context.Context, e env, svc *policy.Service, tenant string) error {
	rows, err := svc.Settings(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tMAX AGE DAYS\tMAX IDLE DAYS\tMAX ACTIVE PER USER\tLABEL REQUIRED\tCHANGED")
	for _, s := range rows {
		if tenant != "" && s.TenantID != "" && s.TenantID != tenant {
			continue
		}
		d := policy.Describe(s)
		changed := ""
		if !s.UpdatedAt.IsZero() {
			changed = s.UpdatedAt.UTC().Format(time.RFC3339) + " by " + s.UpdatedBy
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d["tenant"], d["max_age_days"], d["max_idle_days"], d["max_active_per_user"], d["label_required"], changed)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if tenant != "" {
		p, err := svc.Effective(ctx, tenant)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "\nIn force for %s: max age %s, max idle %s, max active per user %s, label required %t.\n", tenant,
			rule(p.MaxAgeDays, " days"), rule(p.MaxIdleDays, " days"), rule(p.MaxActivePerUser, ""), p.LabelRequired)
	}
	return nil
}

func rule(n int, unit string) string {
	if n == 0 {
		return "no rule"
	}
	return strconv.Itoa(n) + unit
}
