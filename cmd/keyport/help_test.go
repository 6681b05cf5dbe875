package main

import (
	"strings"
	"testing"
)

// helpArgs is every command line that has its own usage: each subcommand of
// commands() and the sub-actions that build their own flag sets.
func helpArgs() [][]string {
	var all [][]string
	for _, c := range commands() {
		all = append(all, []string{c.name})
	}
	all = append(all, []string{"sim", "basic-token"}, []string{"audit", "seed"})
	for _, a := range reviewerActions() {
		all = append(all, []string{"reviewer", a.name}, []string{"auditor", a.name})
	}
	return all
}

// --help and -h print the usage exactly once, on stdout, and succeed. The
// flag package prints usage itself while parsing; printing it again after
// flag.ErrHelp once showed every command's help twice (stderr, then stdout).
func TestSubcommandHelpPrintsUsageOnce(t *testing.T) {
	for _, cmd := range helpArgs() {
		for _, h := range []string{"--help", "-h"} {
			args := append(append([]string(nil), cmd...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				out, errOut, err := runCmd(t, nil, args...)
				if code := exitCode(err); code != 0 {
					t.Fatalf("exit %d (%v), want 0", code, err)
				}
				// reviewer's actions share one usage text, "reviewer <action> …"
				// ("auditor <action> …" under the alias).
				want := "Usage: keyport " + cmd[0]
				if !strings.HasPrefix(out, want) {
					t.Errorf("stdout does not start with %q:\n%s", want, out)
				}
				if n := strings.Count(out+errOut, "Usage: keyport "); n != 1 {
					t.Errorf("usage printed %d times, want once\nstdout:\n%s\nstderr:\n%s", n, out, errOut)
				}
				if errOut != "" {
					t.Errorf("stderr not empty: %q", errOut)
				}
			})
		}
	}
}

// A bad flag is a usage error: one error line and the usage once, on stderr.
func TestBadFlagPrintsHelpOnceToStderr(t *testing.T) {
	for _, cmd := range helpArgs() {
		args := append(append([]string(nil), cmd...), "--no-such-flag")
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, err := runCmd(t, nil, args...)
			if code := exitCode(err); code != 2 {
				t.Fatalf("exit %d (%v), want 2", code, err)
			}
			if out != "" {
				t.Errorf("stdout not empty: %q", out)
			}
			if !strings.HasPrefix(errOut, "flag provided but not defined: -no-such-flag\n") {
				t.Errorf("stderr does not start with the flag error:\n%s", errOut)
			}
			if n := strings.Count(errOut, "Usage: keyport "); n != 1 {
				t.Errorf("usage printed %d times, want once:\n%s", n, errOut)
			}
		})
	}
}

func TestSimBasicTokenHelpNamesFlagValues(t *testing.T) {
	out, _, err := runCmd(t, nil, "sim", "basic-token", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  -tenant ID\n", "  -user ID\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", strings.TrimSpace(want), out)
		}
	}
}

// flag.PrintDefaults takes a back-quoted word in a flag's help as the name
// of its value: "see `keyport sim`" once showed "-tenant keyport sim". Every
// flag line of every help must be "-name" or "-name VALUE", one word each.
func TestHelpFlagValueNamesAreOneWord(t *testing.T) {
	for _, cmd := range helpArgs() {
		out, _, _ := runCmd(t, nil, append(append([]string(nil), cmd...), "--help")...)
		lines := strings.Split(out, "\n")
		for i, l := range lines {
			// PrintDefaults: "  -name [value]" then "    \thelp" on the next
			// line, or "  -x\thelp" for a one-letter flag without a value.
			if !strings.HasPrefix(l, "  -") {
				continue
			}
			head, _, oneLine := strings.Cut(l, "\t")
			if !oneLine && (i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "    \t")) {
				continue // not a flag line
			}
			if f := strings.Fields(head); len(f) > 2 {
				t.Errorf("%s --help: flag line %q has a value name of %d words", strings.Join(cmd, " "), l, len(f)-1)
			}
		}
	}
}
