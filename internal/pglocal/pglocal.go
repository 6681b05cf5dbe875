// Package pglocal runs a throw-away or long-lived PostgreSQL cluster from the
// server binaries installed on the machine, without Docker: it finds initdb
// and postgres, creates a cluster in a directory it is given, starts the
// server on 127.0.0.1 (a free port) and a unix socket in that directory, and
// stops it. Tests and the development setup use it; production never does.
// It imports nothing of Keyport but internal/secret.
//
// Layout of a cluster directory (mode 0700, owned by the server user):
//
//	data/        PGDATA, made by initdb on the first Start
//	password     the superuser's random password (0600), used over TCP
//	server.log   the server's stderr (Options.LogFile)
//	.s.PGSQL.N   the unix socket (trust authentication: the directory guards it)
//
// Running as root: postgres refuses to run as root, so initdb and postgres run
// as the "postgres" system user. The directory is created (or chowned) to that
// user with mode 0700, and every ancestor must let that user traverse it;
// MkdirTemp makes such a place under the system temp directory.
package pglocal

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keyport/keyport/internal/secret"
)

// ErrNoServer is returned when no PostgreSQL server binaries can be found.
var ErrNoServer = errors.New("PostgreSQL server binaries (initdb, postgres) not found: " +
	"install them with `apt-get install postgresql` on Debian/Ubuntu or `brew install postgresql@15` on macOS, or run `make deps`")

// Superuser is the name of the superuser every cluster is created with.
const Superuser = "postgres"

// serverUser is the system account initdb and postgres run as when the
// process is root.
const serverUser = "postgres"

const (
	dataDirName      = "data"
	passwordFileName = "password"
	defaultLogFile   = "server.log"
	defaultTimeout   = 30 * time.Second
	portAttempts     = 5
	// maxSocketPath keeps dir + "/.s.PGSQL.65535" under sun_path (104 bytes on macOS, 108 on Linux).
	maxSocketPath = 103
)

// Options configure a Cluster. The zero value is usable.
type Options struct {
	// Settings are extra server settings passed as -c name=value,
	// e.g. FastSettings() for tests.
	Settings map[string]string
	// Logger receives start and stop events; nil discards them. The URL and
	// the password are never logged.
	Logger *slog.Logger
	// LogFile is the server log's file name inside the cluster directory;
	// empty means "server.log".
	LogFile string
	// SearchPath lists directories to look for the server binaries in, in
	// order; nil means DefaultSearchPath().
	SearchPath []string
	// StartTimeout bounds how long Start waits for the server to accept
	// connections, within the context's deadline; zero means 30 s.
	StartTimeout time.Duration
	// Port is the TCP port to listen on; zero picks a free one (and retries
	// another if it is taken meanwhile). A fixed port keeps a long-lived
	// cluster's URL the same from one start to the next.
	Port int
}

// FastSettings returns settings that trade durability for speed: for test
// clusters whose data may be lost if the machine crashes. With fsync off,
// postgres still asks the kernel to start writeback every few hundred
// kilobytes (the *_flush_after settings); on a slow disk that made CREATE
// DATABASE … TEMPLATE about four times slower, so they are off too.
func FastSettings() map[string]string {
	return map[string]string{"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
		"checkpoint_flush_after": "0", "backend_flush_after": "0", "bgwriter_flush_after": "0", "wal_writer_flush_after": "0"}
}

// Cluster is a PostgreSQL cluster in one directory. Its methods are safe for
// concurrent use; Start and Stop serialize.
type Cluster struct {
	dir     string
	binDir  string
	opts    Options
	log     *slog.Logger
	account *account // nil: run as the current user

	mu       sync.Mutex
	port     int
	password secret.Secret
	proc     *os.Process
	exited   chan struct{} // closed when proc has been waited for
}

// New returns a Cluster for dir (made absolute), which need not exist yet.
// It finds the server binaries (ErrNoServer if there are none) and, when
// running as root, the postgres system user; it touches no file.
func New(dir string, opts Options) (*Cluster, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cluster directory %q: %w", dir, err)
	}
	if len(abs)+len("/.s.PGSQL.65535") > maxSocketPath {
		return nil, fmt.Errorf("cluster directory %q: path too long for a unix socket; use a shorter one", abs)
	}
	searchPath := opts.SearchPath
	if searchPath == nil {
		searchPath = DefaultSearchPath()
	}
	binDir, err := FindServer(searchPath)
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: abs, binDir: binDir, opts: opts, log: opts.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.opts.LogFile == "" {
		c.opts.LogFile = defaultLogFile
	}
	if os.Geteuid() == 0 {
		if c.account, err = lookupAccount(serverUser); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Dir returns the cluster directory.
func (c *Cluster) Dir() string { return c.dir }

// DataDir returns PGDATA.
func (c *Cluster) DataDir() string { return filepath.Join(c.dir, dataDirName) }

// LogPath returns the server log's path.
func (c *Cluster) LogPath() string { return filepath.Join(c.dir, c.opts.LogFile) }

// Port returns the TCP port the server listens on; 0 before Start.
func (c *Cluster) Port() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.port
}

// URL returns a pgx connection URL, as superuser over 127.0.0.1, to dbname.
// It holds the password: never log it.
func (c *Cluster) URL(dbname string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.url(dbname)
}

// url is URL for callers holding c.mu.
func (c *Cluster) url(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(Superuser, c.password.Reveal()), // the URL is the credential's way out
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Start creates the cluster if the directory holds none, stops a server a
// previous process left running on it, then starts the server and waits
// until it accepts connections. Starting a started Cluster does nothing.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil {
		return nil
	}
	began := time.Now()
	if err := c.prepareDir(); err != nil {
		return err
	}
	created, err := c.initIfNeeded(ctx)
	if err != nil {
		return err
	}
	if err := c.stopLeftover(ctx); err != nil {
		return err
	}
	timeout := cmp.Or(c.opts.StartTimeout, defaultTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := c.startOnce(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortInUse) || attempt == portAttempts || c.opts.Port != 0 {
			return fmt.Errorf("start postgres in %s: %w", c.dir, err)
		}
		c.log.Info("postgres port taken, retrying", "dir", c.dir, "attempt", attempt)
	}
	c.log.Info("postgres started", "dir", c.dir, "port", c.port, "created", created,
		"elapsed", time.Since(began).Round(time.Millisecond))
	return nil
}

// prepareDir creates the directory (0700, owned by the server user) and, as
// root, checks that the server user can reach it.
func (c *Cluster) prepareDir() error {
	if err := os.MkdirAll(filepath.Dir(c.dir), 0o755); err != nil {
		return fmt.Errorf("create parent of %s: %w", c.dir, err)
	}
	if err := os.Mkdir(c.dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create cluster directory: %w", err)
	}
	// Mkdir is subject to the umask and an existing directory may be wider:
	// the mode is what keeps other users off the trust-authenticated socket.
	if err := os.Chmod(c.dir, 0o700); err != nil {
		return fmt.Errorf("restrict cluster directory: %w", err)
	}
	if c.account == nil {
		return nil
	}
	if err := os.Chown(c.dir, int(c.account.uid), int(c.account.gid)); err != nil {
		return fmt.Errorf("give cluster directory to %s: %w", serverUser, err)
	}
	return c.account.checkTraverse(filepath.Dir(c.dir))
}

// initIfNeeded runs initdb unless PGDATA already holds a cluster, and loads
// the superuser's password.
func (c *Cluster) initIfNeeded(ctx context.Context) (created bool, err error) {
	pwPath := filepath.Join(c.dir, passwordFileName)
	if _, err := os.Stat(filepath.Join(c.DataDir(), "PG_VERSION")); err == nil {
		pw, err := os.ReadFile(pwPath)
		if err != nil {
			return false, fmt.Errorf("read superuser password of existing cluster: %w", err)
		}
		c.password = secret.New(strings.TrimSpace(string(pw)))
		return false, nil
	}
	// A half-made PGDATA (initdb killed) would make initdb refuse: start over.
	if err := os.RemoveAll(c.DataDir()); err != nil {
		return false, fmt.Errorf("remove incomplete data directory: %w", err)
	}
	raw := make([]byte, 24)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails
	c.password = secret.New(hex.EncodeToString(raw))
	if err := c.writeFile(pwPath, []byte(c.password.Reveal()+"\n"), 0o600); err != nil {
		return false, err
	}
	args := []string{
		"-D", c.DataDir(), "-U", Superuser, "--pwfile", pwPath,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"--encoding=UTF8", "--locale=C",
	}
	if c.opts.Settings["fsync"] == "off" {
		args = append(args, "--no-sync") // the cluster's durability is already given up
	}
	cmd := c.command(ctx, "initdb", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return false, fmt.Errorf("initdb in %s: %w\n%s", c.dir, err, tail(out, 20))
	}
	return true, nil
}

// writeFile writes a file the server user can read.
func (c *Cluster) writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile keeps an existing file's mode
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if c.account != nil {
		if err := os.Chown(path, int(c.account.uid), int(c.account.gid)); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	return nil
}

// command runs a server binary as the server user, from the cluster
// directory (root's home is not readable by that user), in the C locale so
// that messages can be matched, without the caller's PG* variables.
func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	cmd.Dir = c.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "LANG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if c.account != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: c.account.uid, Gid: c.account.gid, Groups: c.account.groups}
	}
	return cmd
}

var errPortInUse = errors.New("port in use")

// MkdirTemp creates a new directory in parent (os.TempDir() if empty) that
// the server user can traverse (0755, where os.MkdirTemp makes 0700), to
// hold a cluster directory: pass filepath.Join(dir, "pg") to New, and remove
// dir when done.
func MkdirTemp(parent, pattern string) (string, error) {
	dir, err := os.MkdirTemp(parent, pattern)
	if err != nil {
		return "", fmt.Errorf("create temp directory: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("open temp directory to the server user: %w", err)
	}
	return dir, nil
}
