// Command server is caregraph: it serves the GraphQL API (the default command) and runs
// the operator's commands (migrate, import-shapefiles, cluster).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// errUsage marks a mistake in the command line.
var errUsage = errors.New("usage")

// env is what every command receives.
type env struct {
	cfg    config
	logger *slog.Logger
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "serve the GraphQL API, playground, health and metrics (the default)", cmdServe},
		{"migrate", "apply database migrations", cmdMigrate},
		{"import-shapefiles", "import boundary layers into PostGIS", cmdImportShapefiles},
		{"cluster", "start, stop or locate the private PostgreSQL cluster", cmdCluster},
		{"user", "create accounts and service tokens (user create, user token)", cmdUser},
		{"seed", "load the organisation reference lists into the register (--report lists placement disagreements)", cmdSeed},
		{"sync", "bring datasets in from their sources: sync nhs-dd, sync rcpch, sync ods", cmdSync},
		{"mergers", "create sites from NHS ODS or close them (mergers --organisations CODE... --create|--delete)", cmdMergers},
		{"submit", "submit a unit's NPDA CSV for an audit year (submit --pdu PZ041 --year 2024 FILE)", cmdSubmit},
		{"demo-data", "write (and with --submit, submit) synthetic NPDA CSVs for every unit", cmdDemoData},
		{"aggregate", "recompute the audit KPIs and their aggregates by place (aggregate [--year Y] [--pdu PZ...])", cmdAggregate},
	}
}

// run is the whole program: it parses the command line, builds the logger and
// configuration, and runs one command.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		usage(stdout)
		return nil
	}
	name := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == name {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		usage(stderr)
		return fmt.Errorf("%w: unknown command %q", errUsage, name)
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := newLogger(cfg, stderr)
	return cmd.run(ctx, env{cfg: cfg, logger: logger, stdin: stdin, stdout: stdout, stderr: stderr}, args)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "caregraph: UK paediatric health data over GraphQL.")
	fmt.Fprintln(w, "\nUsage: server [command] [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-18s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'server COMMAND --help' for a command's flags. Configuration is read from the")
	fmt.Fprintln(w, "environment: DATABASE_URL, CAREGRAPH_DATA_DIR, CAREGRAPH_ADDR, CAREGRAPH_LOG_LEVEL, ...")
	fmt.Fprintln(w, "(see README.md).")
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newFlags returns a flag set that prints its usage to stderr and returns errors.
func newFlags(e env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: server %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}
