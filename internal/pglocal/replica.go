package pglocal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
)

// NewReplica makes a streaming replica of c, which must be running, in dir:
// pg_basebackup -R, over c's unix socket, copies c's data directory and
// writes standby.signal and primary_conninfo; the returned Cluster (not yet
// started) runs it as a hot standby on a port of its own and keeps c's
// superuser password. Tests use it to read from a real replica.
func (c *Cluster) NewReplica(ctx context.Context, dir string, opts Options) (*Cluster, error) {
	c.mu.Lock()
	port, pw, running := c.port, c.password, c.proc != nil
	c.mu.Unlock()
	if !running {
		return nil, errors.New("pglocal: the primary must be running to copy it")
	}
	r, err := New(dir, opts)
	if err != nil {
		return nil, err
	}
	if err := r.prepareDir(); err != nil {
		return nil, err
	}
	if err := r.writeFile(filepath.Join(r.dir, passwordFileName), []byte(pw.Reveal()+"\n"), 0o600); err != nil {
		return nil, err
	}
	args := []string{"-D", r.DataDir(), "-h", c.dir, "-p", strconv.Itoa(port), "-U", Superuser,
		"-R", "-X", "stream", "--checkpoint=fast"}
	if opts.Settings["fsync"] == "off" {
		args = append(args, "--no-sync")
	}
	cmd := r.command(ctx, "pg_basebackup", args...)
	// The server binaries may be links into the real directory (as in
	// /usr/local/bin), which holds pg_basebackup beside them.
	if !isExecutable(cmd.Path) {
		if real, err := filepath.EvalSymlinks(filepath.Join(c.binDir, "postgres")); err == nil {
			cmd.Path = filepath.Join(filepath.Dir(real), "pg_basebackup")
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pg_basebackup of %s: %w\n%s", c.dir, err, tail(out, 20))
	}
	return r, nil
}
