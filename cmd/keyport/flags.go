package main

import (
	"errors"
	"flag"
	"fmt"
)

// newFlagSet returns a flag set whose --help prints the command's usage to
// stdout and whose errors are usage errors (exit 2).
func newFlagSet(e env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: keyport %s\n\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; --help is success, anything else wrong is exit 2.
//
// With ContinueOnError, fs.Parse itself calls fs.Usage (writing to stderr)
// before returning flag.ErrHelp or a bad-flag error. Usage is silenced for
// the duration of Parse and printed here exactly once: to stdout for --help,
// to stderr (after Parse's one-line error message) for a bad flag.
func parse(fs *flag.FlagSet, e env, args []string) (help bool, err error) {
	usage := fs.Usage
	fs.Usage = func() {}
	err = fs.Parse(args)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(e.stdout)
		fs.Usage()
		fs.SetOutput(e.stderr)
		return true, nil
	}
	if err != nil {
		fs.Usage()
		return false, &exitError{code: 2}
	}
	return false, nil
}
