package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"caregraph/auth"
	"caregraph/store"
)

const userUsage = `user create --email EMAIL --name NAME --role ROLE [--pdu PZCODE]...
       server user token --email EMAIL --pdu PZCODE --access read|submit [--expires DURATION]

Manages accounts from the command line, as the operator (the access log records
"via command line").

  user create  creates an account. The password is read from standard input when it
               is piped (one line), else one is generated and printed once on standard
               output. The first --pdu is the primary unit. Roles: coordinator, editor,
               reader, rcpch_audit_team (the first admin: no --pdu needed).
  user token   creates a service token for one unit's system, owned by the account
               EMAIL, and prints it once on standard output.`

func cmdUser(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stderr, "Usage: server %s\n", userUsage)
		if len(args) == 0 {
			return fmt.Errorf("%w: user needs a subcommand: create or token", errUsage)
		}
		return nil
	}
	switch args[0] {
	case "create":
		return cmdUserCreate(ctx, e, args[1:])
	case "token":
		return cmdUserToken(ctx, e, args[1:])
	}
	return fmt.Errorf("%w: unknown user subcommand %q: want create or token", errUsage, args[0])
}

func cmdUserCreate(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "user create", userUsage)
	email := fs.String("email", "", "the email the person signs in with (required)")
	name := fs.String("name", "", "the person's name (required)")
	role := fs.String("role", "", "coordinator, editor, reader or rcpch_audit_team (required)")
	var pdus stringList
	fs.Var(&pdus, "pdu", "a unit's PZ code (repeatable; the first is the primary unit)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	if *email == "" || *name == "" || *role == "" {
		return fmt.Errorf("%w: --email, --name and --role are required", errUsage)
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	password, piped, err := readPassword(e.stdin)
	if err != nil {
		return err
	}
	db, err := openMigrated(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	svc := auth.NewService(store.New(db.Pool), e.cfg.authOptions(e.logger))
	u, generated, err := svc.CreateUser(ctx, auth.Operator(), auth.NewUserRequest{Email: *email, Name: *name, Role: r, PZCodes: pdus, Password: password})
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	fmt.Fprintf(e.stderr, "created %s account %s (%s)", u.Role, u.Email, u.Name)
	if len(u.PZCodes) > 0 {
		fmt.Fprintf(e.stderr, ", units %s (primary %s)", strings.Join(u.PZCodes, ", "), u.PZCodes[0])
	}
	fmt.Fprintln(e.stderr)
	if generated != "" {
		fmt.Fprintln(e.stderr, "generated password (shown only now; ask them to change it with changePassword):")
		fmt.Fprintln(e.stdout, generated)
	} else if piped {
		fmt.Fprintln(e.stderr, "password set from standard input")
	}
	if r == auth.AuditTeam {
		fmt.Fprintln(e.stderr, "the audit team needs a second factor: the first login (without totp) gives a 15-minute token for enrolTotp and confirmTotp only")
	}
	return nil
}

func cmdUserToken(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "user token", userUsage)
	email := fs.String("email", "", "the account that owns the token (required)")
	pdu := fs.String("pdu", "", "the unit the token acts for (required)")
	access := fs.String("access", "", "read or submit (required)")
	expires := fs.Duration("expires", 365*24*time.Hour, "how long the token lasts")
	description := fs.String("description", "", "what the token is for, e.g. the system's name")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	if *email == "" || *pdu == "" || *access == "" {
		return fmt.Errorf("%w: --email, --pdu and --access are required", errUsage)
	}
	acc, err := auth.ParseAccess(*access)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *expires <= 0 {
		return fmt.Errorf("%w: --expires must be positive", errUsage)
	}
	db, err := openMigrated(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	svc := auth.NewService(store.New(db.Pool), e.cfg.authOptions(e.logger))
	desc := *description
	if desc == "" {
		desc = "service token from the command line"
	}
	text, t, err := svc.IssueServiceToken(ctx, auth.Operator(), auth.ServiceTokenRequest{OwnerEmail: *email, PZCode: *pdu, Access: acc, TTL: *expires, Description: desc})
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	fmt.Fprintf(e.stderr, "created %s token %d for %s, owned by %s, expiring %s (shown only now):\n",
		*t.Access, t.ID, *t.PZCode, *email, t.ExpiresAt.UTC().Format(time.RFC3339))
	fmt.Fprintln(e.stdout, text)
	return nil
}

// readPassword reads a password from in when it is piped or redirected (its first
// line); from a terminal, or with no input at all, it reads nothing, and a password is
// generated instead.
func readPassword(in io.Reader) (password string, piped bool, err error) {
	if in == nil {
		return "", false, nil
	}
	if f, ok := in.(*os.File); ok {
		st, err := f.Stat()
		if err != nil || st.Mode()&os.ModeCharDevice != 0 {
			return "", false, nil
		}
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		// Nothing was piped (e.g. </dev/null): generate one.
		return "", false, nil
	}
	return line, true, nil
}
