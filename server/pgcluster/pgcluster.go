// Package pgcluster runs a private PostgreSQL cluster from the PostgreSQL and PostGIS
// binaries installed on the machine, so that the server works on a bare machine with no
// database set up. The cluster listens only on a Unix socket in its own folder, so it
// never clashes with a system PostgreSQL.
package pgcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Superuser is the role initdb creates; the server connects as it over the private socket.
const Superuser = "caregraph"

// Port names the socket file (.s.PGSQL.<port>); no TCP port is opened.
const Port = 5432

// maxSocketPath is the longest Unix socket path Linux accepts (sun_path is 108 bytes).
const maxSocketPath = 107

// Options tune a cluster.
type Options struct {
	// Dir is the folder that holds the data directory, the socket and the log.
	Dir string
	// Throwaway trades durability for speed (fsync off), for test clusters.
	Throwaway bool
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
}

// Cluster is a PostgreSQL cluster in a folder of its own.
type Cluster struct {
	dir       string
	dataDir   string
	socketDir string
	logFile   string
	binDir    string
	throwaway bool
	runAs     *syscall.Credential
	logger    *slog.Logger
	started   bool
}

// New finds the installed PostgreSQL binaries (a version with PostGIS) and prepares the
// folder layout; it starts nothing.
func New(opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgcluster: no folder given")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{
		dir:       dir,
		dataDir:   filepath.Join(dir, "pg"),
		socketDir: filepath.Join(dir, "run"),
		logFile:   filepath.Join(dir, "postgres.log"),
		binDir:    bin,
		throwaway: opts.Throwaway,
		logger:    logger,
	}
	if len(c.socketDir)+len("/.s.PGSQL.")+len(strconv.Itoa(Port)) > maxSocketPath {
		// Deep checkouts would overflow sun_path; keep the socket in a short, stable place.
		sum := sha256.Sum256([]byte(dir))
		c.socketDir = filepath.Join(os.TempDir(), "caregraph-"+hex.EncodeToString(sum[:6]))
	}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: the cluster belongs to the postgres system user.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, errors.New("pgcluster: running as root needs the 'postgres' system user (installed with the postgresql package)")
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		c.runAs = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	return c, nil
}

// FindBinaries returns the bin folder of the newest installed PostgreSQL that has PostGIS.
// PG_BINDIR overrides the search.
func FindBinaries() (string, error) {
	if dir := os.Getenv("PG_BINDIR"); dir != "" {
		return dir, nil
	}
	var candidates []string
	if p, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(p, "--bindir").Output(); err == nil {
			candidates = append(candidates, strings.TrimSpace(string(out)))
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	candidates = append(candidates, dirs...)
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	var withoutPostGIS []string
	for _, bin := range candidates {
		if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
			continue
		}
		if hasPostGIS(bin) {
			return bin, nil
		}
		withoutPostGIS = append(withoutPostGIS, bin)
	}
	if len(withoutPostGIS) > 0 {
		return "", fmt.Errorf("pgcluster: PostgreSQL is installed (%s) but PostGIS is not: install postgresql-<version>-postgis-3, or run `make run` as root to install it", withoutPostGIS[0])
	}
	return "", errors.New("pgcluster: PostgreSQL is not installed: install postgresql and postgresql-<version>-postgis-3 (Debian/Ubuntu), run `make run` as root to install them, or set DATABASE_URL")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func hasPostGIS(binDir string) bool {
	out, err := exec.Command(filepath.Join(binDir, "pg_config"), "--sharedir").Output()
	if err != nil {
		v := filepath.Base(filepath.Dir(binDir))
		out = []byte("/usr/share/postgresql/" + v)
	}
	_, err = os.Stat(filepath.Join(strings.TrimSpace(string(out)), "extension", "postgis.control"))
	return err == nil
}

// Dir is the cluster's folder.
func (c *Cluster) Dir() string { return c.dir }

// URL is the connection string for database name over the private socket.
func (c *Cluster) URL(name string) string {
	q := url.Values{}
	q.Set("host", c.socketDir)
	q.Set("port", strconv.Itoa(Port))
	q.Set("sslmode", "disable")
	return (&url.URL{Scheme: "postgres", User: url.User(Superuser), Path: "/" + name, RawQuery: q.Encode()}).String()
}

// Start initialises the cluster when its folder is new and starts it unless it already
// runs (then it is reused and left running by Stop).
func (c *Cluster) Start(ctx context.Context) error {
	for _, d := range []string{c.dir, c.socketDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if err := c.chown(d); err != nil {
			return err
		}
	}
	if err := c.checkAccess(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		c.logger.Info("initialising private PostgreSQL cluster", "dir", c.dataDir)
		if err := c.pg(ctx, "initdb", "-D", c.dataDir, "-U", Superuser, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"); err != nil {
			return fmt.Errorf("pgcluster: initdb: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if c.running(ctx) {
		c.logger.Info("reusing running PostgreSQL cluster", "dir", c.dataDir)
		return nil
	}
	// A server killed without shutdown leaves a stale pid file that pg_ctl handles itself.
	settings := []string{
		"-c listen_addresses=''",
		"-c unix_socket_directories='" + c.socketDir + "'",
		"-c unix_socket_permissions=0700",
		"-p " + strconv.Itoa(Port),
	}
	if c.throwaway {
		settings = append(settings, "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off", "-c max_connections=300")
	}
	c.logger.Info("starting private PostgreSQL cluster", "dir", c.dataDir, "socket", c.socketDir)
	if err := c.pg(ctx, "pg_ctl", "-D", c.dataDir, "-l", c.logFile, "-w", "-t", "60", "-o", strings.Join(settings, " "), "start"); err != nil {
		if c.running(ctx) {
			// Another process started it in the meantime.
			return nil
		}
		return fmt.Errorf("pgcluster: start (log in %s): %w", c.logFile, err)
	}
	c.started = true
	return nil
}

// Stop stops the cluster if Start started it.
func (c *Cluster) Stop(ctx context.Context) error {
	if !c.started {
		return nil
	}
	return c.StopAlways(ctx)
}

// StopAlways stops the cluster whoever started it.
func (c *Cluster) StopAlways(ctx context.Context) error {
	if !c.running(ctx) {
		return nil
	}
	c.logger.Info("stopping private PostgreSQL cluster", "dir", c.dataDir)
	if err := c.pg(ctx, "pg_ctl", "-D", c.dataDir, "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("pgcluster: stop: %w", err)
	}
	c.started = false
	return nil
}

// EnsureDatabase creates database name if it does not exist.
func (c *Cluster) EnsureDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgcluster: connect: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		var again bool
		if conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&again) == nil && again {
			return nil
		}
		return fmt.Errorf("pgcluster: create database %s: %w", name, err)
	}
	return nil
}

func (c *Cluster) running(ctx context.Context) bool {
	return c.pg(ctx, "pg_ctl", "-D", c.dataDir, "status") == nil
}

func (c *Cluster) chown(path string) error {
	if c.runAs == nil {
		return nil
	}
	if err := os.Chown(path, int(c.runAs.Uid), int(c.runAs.Gid)); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return nil
}

// checkAccess fails early, with advice, when the postgres user cannot reach the folder
// (a checkout under /root, say), instead of letting initdb fail obscurely.
func (c *Cluster) checkAccess() error {
	if c.runAs == nil {
		return nil
	}
	cmd := exec.Command("test", "-w", c.dir, "-a", "-x", c.dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.runAs}
	if cmd.Run() != nil {
		return fmt.Errorf("pgcluster: the postgres system user cannot write %s (a parent folder is closed to it); set CAREGRAPH_PG_DIR to a folder it can reach, e.g. /var/tmp/caregraph", c.dir)
	}
	return nil
}

func (c *Cluster) pg(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	// Its own process group: a Ctrl-C in the terminal reaches the server, which then
	// stops the cluster in order, instead of reaching postgres directly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.runAs}
	cmd.Dir = c.dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		if msg == "" {
			return err
		}
		return fmt.Errorf("%w: %s", err, msg)
	}
	return nil
}
