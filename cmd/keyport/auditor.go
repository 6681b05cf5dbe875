package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyport/keyport/internal/kp"

	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/term"
	"rsc.io/qr"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/config"
	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/seal"
	"github.com/keyport/keyport/internal/secret"
)

const auditorUsage = `auditor <action> [flags]

Manages the accounts of security reviewers, who sign in at /auditor/login.

  add --username NAME [--totp] [--qr-png FILE]   create an account
  list                                          show every account
  disable --username NAME                       stop an account (its sessions end at their next request)
  enable --username NAME                        start it again
  reset-password --username NAME [--totp | --remove-totp]
                                                set a new password (and a new, or no, TOTP secret)

The password is read from the terminal without echo (asked twice), or as
one line from standard input when that is not a terminal; never from a flag.
--totp prints the otpauth:// URI and a QR code for an authenticator app.

Needs KEYPORT_DATABASE_URL and KEYPORT_AUDIT_KEY (every change is an audit
event), and KEYPORT_ENCRYPTION_KEY for --totp (the secret is stored sealed).`

func cmdAuditor(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet(e, "auditor", auditorUsage)
		if help, err := parse(fs, e, args); help || err != nil {
			return err
		}
		fs.Usage()
		return usageError(errors.New("auditor: want an action: add, list, disable, enable, reset-password"))
	}
	action := args[0]
	fs := newFlagSet(e, "auditor "+action, auditorUsage)
	dbURL := fs.String("database-url", "", "PostgreSQL URL (env KEYPORT_DATABASE_URL)")
	keyFile := fs.String("audit-key-file", "", "file holding the audit key (env KEYPORT_AUDIT_KEY)")
	encFile := fs.String("encryption-key-file", "", "file holding the encryption key, for TOTP (env KEYPORT_ENCRYPTION_KEY)")
	var username *string
	var withTOTP, removeTOTP *bool
	var qrPNG *string
	switch action {
	case "add", "disable", "enable", "reset-password":
		username = fs.String("username", "", "the reviewer's username (required)")
	case "list":
	default:
		return usageError(fmt.Errorf("auditor: unknown action %q, want add, list, disable, enable or reset-password", action))
	}
	if action == "add" || action == "reset-password" {
		withTOTP = fs.Bool("totp", false, "set up a TOTP second factor (prints the otpauth URI and a QR code)")
		qrPNG = fs.String("qr-png", "", "also write the TOTP QR code to this PNG file")
	}
	if action == "reset-password" {
		removeTOTP = fs.Bool("remove-totp", false, "remove the account's TOTP second factor")
	}
	if help, err := parse(fs, e, args[1:]); help || err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fmt.Errorf("auditor %s: unexpected arguments %q", action, fs.Args()))
	}
	if username != nil && *username == "" {
		return usageError(fmt.Errorf("auditor %s: --username is required", action))
	}
	needTOTPKey := withTOTP != nil && *withTOTP
	if removeTOTP != nil && *removeTOTP && needTOTPKey {
		return usageError(errors.New("auditor reset-password: --totp and --remove-totp exclude each other"))
	}
	cfg, err := loadAuditConfig(e, *dbURL, *keyFile)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	var sealerKey secret.Secret
	if needTOTPKey {
		raw := e.getenv("KEYPORT_ENCRYPTION_KEY")
		if *encFile != "" {
			if raw, err = readKeyFile(*encFile); err != nil {
				errs = append(errs, fmt.Errorf("KEYPORT_ENCRYPTION_KEY: %w", err))
			}
		}
		if sealerKey, err = config.ParseKey(raw); err != nil {
			errs = append(errs, fmt.Errorf("KEYPORT_ENCRYPTION_KEY: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return usageError(err)
	}
	pool, w, err := openTrail(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	var sealer *seal.Sealer
	if needTOTPKey {
		if sealer, err = reviewer.NewTOTPSealer(sealerKey); err != nil {
			return usageError(fmt.Errorf("KEYPORT_ENCRYPTION_KEY: %w", err))
		}
	}
	svc := reviewer.New(pool, w, sealer, reviewer.Options{})
	// The operator is Keyport's own command line; who ran it is noted as
	// far as the environment says.
	actor := audit.Actor{Kind: kp.ActorSystem, UserID: "keyport auditor", Name: "command line"}
	if u := e.getenv("USER"); u != "" {
		actor.Name = "command line, OS user " + u
	}

	switch action {
	case "list":
		accts, err := svc.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tSTATE\tTOTP\tCREATED\tLAST SIGN-IN")
		for _, a := range accts {
			state, totp, last := "active", "no", "never"
			if a.Disabled {
				state = "disabled"
			}
			if a.TOTP {
				totp = "yes"
			}
			if a.LastLoginAt != nil {
				last = a.LastLoginAt.UTC().Format("2006-01-02 15:04 UTC")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Username, state, totp, a.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), last)
		}
		return tw.Flush()
	case "disable", "enable":
		if err := svc.SetDisabled(ctx, actor, *username, action == "disable"); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "reviewer %s %sd\n", reviewer.NormalizeUsername(*username), action)
		return nil
	}

	pw, err := readPassword(e)
	if err != nil {
		return err
	}
	var enrol *reviewer.Enrolment
	if action == "add" {
		enrol, err = svc.Add(ctx, actor, *username, pw, *withTOTP)
	} else {
		t := reviewer.TOTPKeep
		if *withTOTP {
			t = reviewer.TOTPNew
		} else if *removeTOTP {
			t = reviewer.TOTPRemove
		}
		enrol, err = svc.ResetPassword(ctx, actor, *username, pw, t)
	}
	if err != nil {
		return err
	}
	name := reviewer.NormalizeUsername(*username)
	if action == "add" {
		fmt.Fprintf(e.stdout, "reviewer %s added; they sign in at /auditor/login\n", name)
	} else {
		fmt.Fprintf(e.stdout, "password of reviewer %s reset\n", name)
	}
	if enrol != nil {
		return printEnrolment(e, enrol, *qrPNG)
	}
	return nil
}

// readPassword reads a new password: from a terminal without echo, twice;
// otherwise one line of standard input (for scripts: `… < file`).
func readPassword(e env) (secret.Secret, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "New password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return secret.Secret{}, fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(e.stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return secret.Secret{}, fmt.Errorf("read password: %w", err)
		}
		if !bytes.Equal(a, b) {
			return secret.Secret{}, usageError(errors.New("the passwords differ"))
		}
		return secret.New(string(a)), nil
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return secret.Secret{}, fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return secret.Secret{}, usageError(errors.New("no password on standard input"))
	}
	return secret.New(line), nil
}

// printEnrolment shows the TOTP provisioning URI and its QR code, once.
func printEnrolment(e env, enrol *reviewer.Enrolment, pngPath string) error {
	uri := enrol.URI.Reveal()
	fmt.Fprintln(e.stdout, "\nTOTP: scan this with an authenticator app, or enter the URI. It is shown only now.")
	fmt.Fprintln(e.stdout, uri)
	code, err := qr.Encode(uri, qr.M)
	if err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	fmt.Fprintln(e.stdout)
	writeTerminalQR(e.stdout, code)
	if pngPath != "" {
		var buf bytes.Buffer
		if err := png.Encode(&buf, qrImage(code, 8)); err != nil {
			return fmt.Errorf("QR code PNG: %w", err)
		}
		if err := os.WriteFile(pngPath, buf.Bytes(), 0o600); err != nil {
			return fmt.Errorf("write QR code: %w", err)
		}
		fmt.Fprintf(e.stdout, "QR code written to %s (it holds the secret: delete it once scanned)\n", pngPath)
	}
	return nil
}

// qrQuiet is the blank border scanners need around a code, in modules.
const qrQuiet = 4

// writeTerminalQR draws the code with half-block characters, two module
// rows per text line, dark modules as spaces on a light background so it
// scans on dark and light terminals alike.
func writeTerminalQR(w io.Writer, c *qr.Code) {
	n := c.Size + 2*qrQuiet
	dark := func(x, y int) bool { return c.Black(x-qrQuiet, y-qrQuiet) }
	var b strings.Builder
	for y := 0; y < n; y += 2 {
		for x := 0; x < n; x++ {
			top, bottom := !dark(x, y), y+1 < n && !dark(x, y+1) || y+1 >= n
			switch {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	io.WriteString(w, b.String())
}

func qrImage(c *qr.Code, scale int) image.Image {
	n := (c.Size + 2*qrQuiet) * scale
	img := image.NewGray(image.Rect(0, 0, n, n))
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			v := color.Gray{Y: 0xff}
			if c.Black(x/scale-qrQuiet, y/scale-qrQuiet) {
				v.Y = 0
			}
			img.SetGray(x, y, v)
		}
	}
	return img
}

const seedUsage = `audit seed --events N [--i-know-this-is-dev] [--seed S]

Appends N synthetic, correctly chained events (spread over the last 30
days) for development and benchmarks. Refused unless the database is on
this machine (loopback host or a Unix socket) AND development is declared:
KEYPORT_DEV=1 in the environment or --i-know-this-is-dev. Both, because a
loopback URL alone can be an SSH tunnel to production.`

// cmdAuditSeed is `keyport audit seed`: synthetic events, development only.
func cmdAuditSeed(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "audit seed", seedUsage)
	n := fs.Int("events", 0, "how many events to append (required, at most 50 000 000)")
	seedFlag := fs.Uint64("seed", 1, "random seed (the same seed gives the same events)")
	dev := fs.Bool("i-know-this-is-dev", false, "declare this a development database (or set KEYPORT_DEV=1)")
	dbURL := fs.String("database-url", "", "PostgreSQL URL (env KEYPORT_DATABASE_URL)")
	keyFile := fs.String("audit-key-file", "", "file holding the audit key (env KEYPORT_AUDIT_KEY)")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if *n <= 0 || *n > 50_000_000 || fs.NArg() != 0 {
		return usageError(errors.New("audit seed: --events N is required (1 to 50 000 000)"))
	}
	cfg, err := loadAuditConfig(e, *dbURL, *keyFile)
	if err != nil {
		return usageError(err)
	}
	if err := devOnly(cfg.DatabaseURL.Reveal(), *dev || e.getenv("KEYPORT_DEV") == "1"); err != nil {
		return usageError(err)
	}
	pool, w, err := openTrail(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	start := time.Now()
	written, err := audit.Seed(ctx, pool, *n, *seedFlag, start)
	if err != nil {
		return err
	}
	if err := w.Record(ctx, audit.Event{Actor: audit.Actor{Kind: kp.ActorSystem, UserID: "keyport audit seed", Name: "command line"},
		Action: kp.AuditSeed, Details: audit.Details{Count: int64(written)}}, audit.Result{Outcome: kp.OutcomeSuccess}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "seeded %d events in %s\n", written, time.Since(start).Round(time.Millisecond))
	return nil
}

// devOnly refuses a database that is not on this machine, or any database
// when development was not declared.
func devOnly(databaseURL string, declared bool) error {
	cfg, err := pgconn.ParseConfig(databaseURL)
	if err != nil {
		return errors.New("KEYPORT_DATABASE_URL: invalid connection string")
	}
	local := strings.HasPrefix(cfg.Host, "/") || cfg.Host == "localhost"
	if ip, err := netip.ParseAddr(cfg.Host); err == nil && ip.IsLoopback() {
		local = true
	}
	for _, fb := range cfg.Fallbacks {
		if !strings.HasPrefix(fb.Host, "/") && fb.Host != "localhost" {
			if ip, err := netip.ParseAddr(fb.Host); err != nil || !ip.IsLoopback() {
				local = false
			}
		}
	}
	switch {
	case !local:
		return fmt.Errorf("audit seed: refused: the database host %q is not this machine; seeding is for development databases only", cfg.Host)
	case !declared:
		return errors.New("audit seed: refused: declare a development database with KEYPORT_DEV=1 or --i-know-this-is-dev")
	}
	return nil
}
