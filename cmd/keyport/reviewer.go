package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/kp"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/seal"
)

// reviewerUsage is the usage shared by `keyport reviewer` and its actions;
// cmd is the name it was called by ("reviewer", or the alias "auditor").
func reviewerUsage(cmd string) string {
	return cmd + ` <action> [flags]

Manages the accounts of security reviewers, who sign in at /reviewer/login.

  add --username NAME [--totp] [--qr-png FILE]   create an account
  list                                          show every account
  disable --username NAME                       stop an account (its sessions end at their next request)
  enable --username NAME                        start it again
  unlock --username NAME                        lift the sign-in locks and delays on a name
  unlock --address IP                           lift the lock-out of a client address (and of every
                                                name tried from it)
  reset-password --username NAME [--totp | --remove-totp]
                                                set a new password (and a new, or no, TOTP secret);
                                                lifts the sign-in locks on the name too; ends
                                                every session of the reviewer
  sessions --username NAME [--end]              list the reviewer's live sessions; --end ends them

unlock --username and reset-password name the addresses locked out after failures
for that name, without lifting them: another person behind the same address may
have caused them (docs/auditing.md); lift one with unlock --address.

The password is read from the terminal without echo (asked twice), or as
one line from standard input when that is not a terminal; never from a flag.
--totp prints the otpauth:// URI and a QR code for an authenticator app.

Needs KEYPORT_DATABASE_URL and KEYPORT_AUDIT_KEY (every change is an audit
event), and KEYPORT_ENCRYPTION_KEY for --totp (the secret is stored sealed);
sessions also needs KEYPORT_ENCRYPTION_KEY and KEYPORT_SESSION_KEY.
Without a database URL, run where 'make dev' runs, they are read from
.keyport/dev.env (the development database), and it says so.
'keyport auditor' is another name for 'keyport reviewer'.`
}

// reviewerAction is one action of `keyport reviewer`; cmd is the name the
// command was called by, for messages and usage.
type reviewerAction struct {
	name string
	run  func(ctx context.Context, e env, cmd string, args []string) error
}

func reviewerActions() []reviewerAction {
	return []reviewerAction{
		{"add", reviewerAdd},
		{"list", reviewerList},
		{"disable", reviewerSetDisabled(true)},
		{"enable", reviewerSetDisabled(false)},
		{"reset-password", reviewerResetPassword},
		{"unlock", reviewerUnlock},
		{"sessions", reviewerSessions},
	}
}

// cmdReviewer is `keyport reviewer <action>`.
func cmdReviewer(ctx context.Context, e env, args []string) error {
	return runReviewer(ctx, e, "reviewer", args)
}

// cmdAuditor is `keyport auditor <action>`, the first name of `keyport
// reviewer`, kept so that existing scripts and habits still work.
func cmdAuditor(ctx context.Context, e env, args []string) error {
	return runReviewer(ctx, e, "auditor", args)
}

func runReviewer(ctx context.Context, e env, cmd string, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet(e, cmd, reviewerUsage(cmd))
		if help, err := parse(fs, e, args); help || err != nil {
			return err
		}
		fs.Usage()
		return usageError(fmt.Errorf("%s: want an action: add, list, disable, enable, reset-password, unlock", cmd))
	}
	for _, a := range reviewerActions() {
		if a.name == args[0] {
			return a.run(ctx, e, cmd, args[1:])
		}
	}
	return usageError(fmt.Errorf("%s: unknown action %q, want add, list, disable, enable, reset-password or unlock", cmd, args[0]))
}

// reviewerFlags returns the flag set of one action, with the settings every
// action may read registered on it.
func reviewerFlags(e env, cmd, action string) (*flag.FlagSet, *config.Source) {
	fs := newFlagSet(e, cmd+" "+action, reviewerUsage(cmd))
	src := config.Register(fs, devGetenv(e), config.DatabaseURL, config.AuditKey, config.EncryptionKey)
	fs.Lookup("encryption-key-file").Usage = "file holding the encryption key, read only for --totp; overrides env KEYPORT_ENCRYPTION_KEY"
	return fs, src
}

func usernameFlag(fs *flag.FlagSet) *string {
	return fs.String("username", "", "the reviewer's username (required)")
}

// totpFlags are the TOTP enrolment flags of add and reset-password.
type totpFlags struct {
	on    *bool
	qrPNG *string
}

func addTOTPFlags(fs *flag.FlagSet) totpFlags {
	return totpFlags{
		on:    fs.Bool("totp", false, "set up a TOTP second factor (prints the otpauth URI and a QR code)"),
		qrPNG: fs.String("qr-png", "", "also write the TOTP QR code to this PNG file"),
	}
}

// checkArgs refuses positional arguments and, for the actions that take
// one, a missing --username.
func checkArgs(fs *flag.FlagSet, username *string) error {
	if fs.NArg() != 0 {
		return usageError(fmt.Errorf("%s: unexpected arguments %q", fs.Name(), fs.Args()))
	}
	if username != nil && *username == "" {
		return usageError(fmt.Errorf("%s: --username is required", fs.Name()))
	}
	return nil
}

// openReviewers loads the settings an action reads (the encryption key only
// when it enrols TOTP, since the secret is stored sealed), opens a database
// with a current schema and returns the reviewers' service and the pool's
// Close.
func openReviewers(ctx context.Context, e env, src *config.Source, withTOTP bool) (*reviewer.Service, func(), error) {
	need := []string{config.DatabaseURL, config.AuditKey}
	if withTOTP {
		need = append(need, config.EncryptionKey)
	}
	cfg, err := src.Load(need...)
	if err != nil {
		return nil, nil, usageError(err)
	}
	pool, w, err := openTrail(ctx, e, cfg)
	if err != nil {
		return nil, nil, err
	}
	var sealer *seal.Sealer
	if withTOTP {
		if sealer, err = reviewer.NewTOTPSealer(cfg.EncryptionKey); err != nil {
			pool.Close()
			return nil, nil, usageError(fmt.Errorf("KEYPORT_ENCRYPTION_KEY: %w", err))
		}
	}
	return reviewer.New(pool, w, sealer, reviewer.Options{}), pool.Close, nil
}

// cliActor is who the audit trail records for a change made here: Keyport's
// own command line, and the OS user as far as the environment says. The
// user id stays "keyport auditor" under both names of the command, so the
// trail keeps one actor for it.
func cliActor(e env) audit.Actor {
	actor := audit.Actor{Kind: kp.ActorSystem, UserID: "keyport auditor", Name: "command line"}
	if u := e.getenv("USER"); u != "" {
		actor.Name = "command line, OS user " + u
	}
	return actor
}

// reviewerAdd is `keyport reviewer add`: a new account, its password read
// from the terminal or standard input.
func reviewerAdd(ctx context.Context, e env, cmd string, args []string) error {
	fs, src := reviewerFlags(e, cmd, "add")
	username := usernameFlag(fs)
	totp := addTOTPFlags(fs)
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if err := checkArgs(fs, username); err != nil {
		return err
	}
	svc, closeDB, err := openReviewers(ctx, e, src, *totp.on)
	if err != nil {
		return err
	}
	defer closeDB()
	pw, err := readPassword(e)
	if err != nil {
		return err
	}
	enrol, err := svc.Add(ctx, cliActor(e), *username, pw, *totp.on)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "reviewer %s added; they sign in at /reviewer/login\n", reviewer.NormalizeUsername(*username))
	return printEnrolment(e, enrol, *totp.qrPNG)
}

// reviewerList is `keyport reviewer list`: every account, one per line.
func reviewerList(ctx context.Context, e env, cmd string, args []string) error {
	fs, src := reviewerFlags(e, cmd, "list")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if err := checkArgs(fs, nil); err != nil {
		return err
	}
	svc, closeDB, err := openReviewers(ctx, e, src, false)
	if err != nil {
		return err
	}
	defer closeDB()
	accts, err := svc.List(ctx)
	if err != nil {
		return err
	}
	const when = "2006-01-02 15:04 UTC"
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tSOURCE\tSTATE\tTOTP\tCREATED\tLAST SIGN-IN")
	for _, a := range accts {
		state, totp, last := "active", "no", "never"
		if a.Disabled {
			state = "disabled"
		}
		if a.TOTP {
			totp = "yes"
		}
		if a.LastLoginAt != nil {
			last = a.LastLoginAt.UTC().Format(when)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Username, a.Source, state, totp, a.CreatedAt.UTC().Format(when), last)
	}
	return tw.Flush()
}

// reviewerSetDisabled is `keyport reviewer disable` (disabled) and `enable`.
func reviewerSetDisabled(disabled bool) func(context.Context, env, string, []string) error {
	action := "enable"
	if disabled {
		action = "disable"
	}
	return reviewerNameAction(action, "reviewer %s "+action+"d\n", func(ctx context.Context, svc *reviewer.Service, e env, name string) error {
		return svc.SetDisabled(ctx, cliActor(e), name, disabled)
	})
}

// reviewerUnlock is `keyport reviewer unlock`: lift the sign-in locks and
// delays on a name, from every address (--username), or the lock-out of a
// client address (--address).
func reviewerUnlock(ctx context.Context, e env, cmd string, args []string) error {
	fs, src := reviewerFlags(e, cmd, "unlock")
	username := fs.String("username", "", "the reviewer's username (this or --address)")
	address := fs.String("address", "", "a client address, as the audit trail shows it (this or --username)")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if err := checkArgs(fs, nil); err != nil {
		return err
	}
	if (*username == "") == (*address == "") {
		return usageError(fmt.Errorf("%s: give --username or --address", fs.Name()))
	}
	svc, closeDB, err := openReviewers(ctx, e, src, false)
	if err != nil {
		return err
	}
	defer closeDB()
	if *address != "" {
		n, err := svc.UnlockAddress(ctx, cliActor(e), *address)
		if err != nil {
			return err
		}
		if n == 0 {
			fmt.Fprintf(e.stdout, "address %s had no failed sign-ins to forget\n", *address)
			return nil
		}
		fmt.Fprintf(e.stdout, "sign-in locks on address %s lifted (%d counts forgotten)\n", *address, n)
		return nil
	}
	locked, err := svc.LockedAddresses(ctx, *username)
	if err != nil {
		return err
	}
	if err := svc.Unlock(ctx, cliActor(e), *username); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "sign-in locks on reviewer %s lifted\n", reviewer.NormalizeUsername(*username))
	printLockedAddresses(e, cmd, locked)
	return nil
}

// printLockedAddresses names the addresses still locked out after failures
// for a name, and the command that lifts each.
func printLockedAddresses(e env, cmd string, locked []string) {
	for _, a := range locked {
		fmt.Fprintf(e.stdout, "address %s is still locked out (failures from there, this name's among them); "+
			"if it is the reviewer's, lift it with: keyport %s unlock --address %s\n", a, cmd, a)
	}
}

// reviewerNameAction is an action that takes only --username: parse, open
// the service, do, and print done (a format with the normalized name).
func reviewerNameAction(action, done string, do func(context.Context, *reviewer.Service, env, string) error) func(context.Context, env, string, []string) error {
	return func(ctx context.Context, e env, cmd string, args []string) error {
		fs, src := reviewerFlags(e, cmd, action)
		username := usernameFlag(fs)
		if help, err := parse(fs, e, args); help || err != nil {
			return err
		}
		if err := checkArgs(fs, username); err != nil {
			return err
		}
		svc, closeDB, err := openReviewers(ctx, e, src, false)
		if err != nil {
			return err
		}
		defer closeDB()
		if err := do(ctx, svc, e, *username); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, done, reviewer.NormalizeUsername(*username))
		return nil
	}
}

// reviewerResetPassword is `keyport reviewer reset-password`: a new
// password, and a new TOTP secret (--totp), none (--remove-totp) or the
// same one.
func reviewerResetPassword(ctx context.Context, e env, cmd string, args []string) error {
	fs, src := reviewerFlags(e, cmd, "reset-password")
	username := usernameFlag(fs)
	totp := addTOTPFlags(fs)
	removeTOTP := fs.Bool("remove-totp", false, "remove the account's TOTP second factor")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if err := checkArgs(fs, username); err != nil {
		return err
	}
	if *removeTOTP && *totp.on {
		return usageError(fmt.Errorf("%s: --totp and --remove-totp exclude each other", fs.Name()))
	}
	svc, closeDB, err := openReviewers(ctx, e, src, *totp.on)
	if err != nil {
		return err
	}
	defer closeDB()
	pw, err := readPassword(e)
	if err != nil {
		return err
	}
	change := reviewer.TOTPKeep
	if *totp.on {
		change = reviewer.TOTPNew
	} else if *removeTOTP {
		change = reviewer.TOTPRemove
	}
	locked, err := svc.LockedAddresses(ctx, *username)
	if err != nil {
		return err
	}
	enrol, err := svc.ResetPassword(ctx, cliActor(e), *username, pw, change)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "password of reviewer %s reset\n", reviewer.NormalizeUsername(*username))
	printLockedAddresses(e, cmd, locked)
	return printEnrolment(e, enrol, *totp.qrPNG)
}
