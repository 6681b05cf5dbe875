package pglocal

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// DefaultSearchPath returns where server binaries are looked for: every PATH
// directory, the Debian/Ubuntu versioned directories (highest version first),
// then Homebrew's. FindServer keeps only those holding initdb.
func DefaultSearchPath() []string {
	dirs := filepath.SplitList(os.Getenv("PATH"))
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin") // Glob errors only on a bad pattern
	slices.SortFunc(debian, func(a, b string) int { return versionOf(b) - versionOf(a) })
	dirs = append(dirs, debian...)
	for _, pattern := range []string{"/opt/homebrew/opt/postgresql@*/bin", "/usr/local/opt/postgresql@*/bin"} {
		brew, _ := filepath.Glob(pattern)
		slices.SortFunc(brew, func(a, b string) int { return versionOf(b) - versionOf(a) })
		dirs = append(dirs, brew...)
	}
	return append(dirs, "/opt/homebrew/bin", "/usr/local/bin")
}

// versionOf extracts the major version from .../postgresql/15/bin or
// .../postgresql@15/bin; 0 if there is none.
func versionOf(binDir string) int {
	base := filepath.Base(filepath.Dir(binDir))
	if _, v, ok := strings.Cut(base, "@"); ok {
		base = v
	}
	n, _ := strconv.Atoi(base) // not a number: sorts last
	return n
}

// FindServer returns the first directory in searchPath holding executable
// initdb and postgres, or ErrNoServer.
func FindServer(searchPath []string) (string, error) {
	for _, dir := range searchPath {
		if dir == "" {
			continue
		}
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", ErrNoServer
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// account is the system user initdb and postgres run as when we are root.
type account struct {
	uid, gid uint32
	groups   []uint32
}

func lookupAccount(name string) (*account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, so the server must run as system user %q: %w", name, err)
	}
	a := &account{}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("system user %q: %w", name, err)
	}
	a.uid, a.gid = uint32(uid), uint32(gid)
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups of system user %q: %w", name, err)
	}
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			a.groups = append(a.groups, uint32(n))
		}
	}
	return a, nil
}

// checkTraverse reports an ancestor of dir (dir included) the account cannot search.
func (a *account) checkTraverse(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("check access to %s: %w", d, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil // not a unix stat: cannot tell, let postgres say
		}
		mode := fi.Mode().Perm()
		allowed := mode&0o001 != 0 ||
			(uint32(st.Uid) == a.uid && mode&0o100 != 0) ||
			((uint32(st.Gid) == a.gid || slices.Contains(a.groups, uint32(st.Gid))) && mode&0o010 != 0)
		if !allowed {
			return fmt.Errorf("system user %s cannot traverse %s (mode %v): make it 0755 or use pglocal.MkdirTemp", serverUser, d, mode)
		}
		if parent := filepath.Dir(d); parent == d {
			return nil
		}
	}
}
