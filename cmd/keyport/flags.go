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
func parse(fs *flag.FlagSet, e env, args []string) (help bool, err error) {
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(e.stdout)
		fs.Usage()
		return true, nil
	}
	if err != nil {
		return false, &exitError{code: 2}
	}
	return false, nil
}
