// Command keyport is the Keyport portal and its tools. main only wires: it
// parses arguments, builds dependencies from configuration and runs one
// subcommand; every rule lives in a package.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintln(os.Stderr, ee.err)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "keyport:", err)
		os.Exit(1)
	}
}

// exitError carries an exit code: 2 for usage and configuration problems.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageError(err error) error { return &exitError{code: 2, err: err} }

// env is what every subcommand receives: no globals.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	name, summary string
	run           func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the portal", cmdServe},
		{"dev", "run everything locally: Postgres, the CXone simulator and the portal", cmdDev},
		{"sim", "run the CXone simulator, or print one of its basic tokens (sim basic-token)", cmdSim},
		{"migrate", "apply (up) or show (status) database migrations", cmdMigrate},
		{"reviewer", "manage security reviewers' accounts: add, list, disable, enable, reset-password, unlock", cmdReviewer},
		{"auditor", "another name for reviewer", cmdAuditor},
		{"audit", "verify the audit trail's hash chain and checkpoints, or write a checkpoint", cmdAudit},
		{"rekey", "re-encrypt every stored token, TOTP seed and session under the newest encryption key", cmdRekey},
		{"keys", "key rings: status lists each key id and what still uses it", cmdKeys},
		{"policy", "show or set the key policies (max age, max idle, max active keys per user, label required)", cmdPolicy},
		{"reconcile", "settle key creations and audit intents whose outcome was lost", cmdReconcile},
		{"health", "exit 0 when the portal's /readyz answers 200 (for container healthchecks)", cmdHealth},
		{"genkey", "print a fresh random key for KEYPORT_*_KEY variables", cmdGenkey},
		{"version", "print version, commit and build date", cmdVersion},
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stdout)
		if len(args) == 0 {
			return &exitError{code: 2}
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	printUsage(stderr)
	return usageError(fmt.Errorf("keyport: unknown command %q", args[0]))
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Keyport: access keys for NICE CXone.\n\nUsage: keyport <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'keyport <command> --help' for a command's flags.")
}
