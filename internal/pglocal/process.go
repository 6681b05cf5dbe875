package pglocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// startOnce starts postgres on Options.Port, or a fresh free port, and
// waits for it.
func (c *Cluster) startOnce(ctx context.Context) error {
	port := c.opts.Port
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return err
		}
		port = p
	}
	logf, err := os.OpenFile(c.LogPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open server log: %w", err)
	}
	defer logf.Close() // the child holds its own descriptor
	logStart, _ := logf.Seek(0, io.SeekEnd)

	args := []string{"-D", c.DataDir(), "-p", strconv.Itoa(port), "-k", c.dir,
		"-c", "listen_addresses=127.0.0.1"}
	for _, k := range slices.Sorted(maps.Keys(c.opts.Settings)) {
		args = append(args, "-c", k+"="+c.opts.Settings[k])
	}
	// Not CommandContext: ctx bounds the start, not the server's life.
	cmd := c.command(context.Background(), "postgres", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so a terminal's Ctrl-C reaches us, not the
	// server: Stop decides how it ends.
	cmd.SysProcAttr.Setpgid = true
	setParentDeathSignal(cmd.SysProcAttr)

	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		// The parent-death signal fires when the thread that forked the
		// child exits: pin this goroutine to its thread until postgres is gone.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			runtime.UnlockOSThread()
			return
		}
		started <- nil
		_ = cmd.Wait() // the exit is reported through the log and the exited channel
		close(exited)
		runtime.UnlockOSThread()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("run postgres: %w", err)
	}
	c.port = port
	if err := c.waitReady(ctx, exited); err != nil {
		_ = signalAndWait(cmd.Process, exited, 10*time.Second)
		logTail := readLogFrom(c.LogPath(), logStart)
		if bytes.Contains(logTail, []byte("Address already in use")) {
			return fmt.Errorf("%w: 127.0.0.1:%d", errPortInUse, port)
		}
		return fmt.Errorf("%w; server log %s ends with:\n%s", err, c.LogPath(), tail(logTail, 20))
	}
	c.proc, c.exited = cmd.Process, exited
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls a connection over TCP, with the password, until it works,
// the server exits, or ctx ends.
func (c *Cluster) waitReady(ctx context.Context, exited <-chan struct{}) error {
	cfg, err := pgx.ParseConfig(c.url("postgres"))
	if err != nil {
		return errors.New("build connection config") // pgx may echo the URL: say less
	}
	cfg.ConnectTimeout = 2 * time.Second
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			return conn.Close(ctx)
		}
		lastErr = err
		select {
		case <-exited:
			return errors.New("postgres exited during startup")
		case <-ctx.Done():
			return fmt.Errorf("postgres not accepting connections: %w (last: %v)", ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

// Stop shuts the server down (fast: open sessions are ended, data is
// flushed) and waits until the postmaster, and with it every backend, has
// exited. If ctx ends first it escalates to immediate shutdown, then SIGKILL.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return nil
	}
	grace := defaultTimeout
	if d, ok := ctx.Deadline(); ok {
		grace = time.Until(d)
	}
	err := signalAndWait(c.proc, c.exited, grace)
	c.proc, c.exited = nil, nil
	if err != nil {
		return fmt.Errorf("stop postgres in %s: %w", c.dir, err)
	}
	c.log.Info("postgres stopped", "dir", c.dir)
	return nil
}

// signalAndWait sends SIGINT (fast shutdown) and waits for exited; after
// grace it sends SIGQUIT (immediate shutdown), then SIGKILL.
func signalAndWait(p *os.Process, exited <-chan struct{}, grace time.Duration) error {
	steps := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGINT, grace}, {syscall.SIGQUIT, 5 * time.Second}, {syscall.SIGKILL, 5 * time.Second}}
	for _, s := range steps {
		if err := p.Signal(s.sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("signal postgres: %w", err)
		}
		select {
		case <-exited:
			if s.sig != syscall.SIGINT {
				return fmt.Errorf("postgres needed %v to stop", s.sig)
			}
			return nil
		case <-time.After(s.wait):
		}
	}
	return errors.New("postgres did not exit after SIGKILL")
}

// stopLeftover stops a server a previous process left running on this
// directory (its parent killed with -9 on a system without a parent-death
// signal, say) and removes a stale postmaster.pid, which postgres itself
// would only trust if no live process had reused the pid.
func (c *Cluster) stopLeftover(ctx context.Context) error {
	pidPath := filepath.Join(c.DataDir(), "postmaster.pid")
	b, err := os.ReadFile(pidPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read postmaster.pid: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 || !isPostgres(pid) {
		if err := os.Remove(pidPath); err != nil {
			return fmt.Errorf("remove stale postmaster.pid: %w", err)
		}
		return nil
	}
	c.log.Info("stopping postgres left running by a previous process", "dir", c.dir, "pid", pid)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGKILL} {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("signal leftover postgres %d: %w", pid, err)
		}
		if waitGone(ctx, pid, 10*time.Second) {
			// Killed outright, it leaves its pid file: stale now.
			if err := os.Remove(pidPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove stale postmaster.pid: %w", err)
			}
			return nil
		}
	}
	return fmt.Errorf("leftover postgres %d in %s does not exit", pid, c.dir)
}

// isPostgres reports whether pid is a live postgres process. Where /proc is
// missing it trusts a live pid.
func isPostgres(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return runtime.GOOS != "linux"
	}
	return strings.TrimSpace(string(comm)) == "postgres"
}

// waitGone polls until pid no longer runs postgres, for at most d.
func waitGone(ctx context.Context, pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if !isPostgres(pid) {
			return true
		}
		time.Sleep(10 * time.Millisecond) // not our child: nothing to wait on
	}
	return !isPostgres(pid)
}

func readLogFrom(path string, offset int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return b
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
