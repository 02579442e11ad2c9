package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"caregraph/auth"
	"caregraph/store"
	"caregraph/store/dbtest"
)

func TestUserCommands(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	for _, pz := range []string{"PZ041", "PZ042"} {
		insertUnit(t, db, pz)
	}
	env := envFunc(map[string]string{"DATABASE_URL": db.URL})
	cli := func(stdin string, args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		var in io.Reader // nil: no input at all, as when started without a terminal
		if stdin != "" {
			in = strings.NewReader(stdin)
		}
		err := run(ctx, args, env, in, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	svc := auth.NewService(store.New(db.Pool), auth.Options{})

	// The password piped in: nothing secret on standard output.
	out, errOut, err := cli("piped password 1\n", "user", "create", "--email", "cat@a.example", "--name", "Cat", "--role", "coordinator", "--pdu", "PZ042", "--pdu", "pz041")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if out != "" || !strings.Contains(errOut, "units PZ042, PZ041 (primary PZ042)") {
		t.Errorf("stdout %q, stderr %q", out, errOut)
	}
	if _, err := svc.Login(ctx, "cat@a.example", "piped password 1", ""); err != nil {
		t.Errorf("the piped password does not sign in: %v", err)
	}

	// No input: a generated password, printed once on standard output.
	out, errOut, err = cli("", "user", "create", "--email", "admin@rcpch.example", "--name", "First Admin", "--role", "rcpch_audit_team")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	generated := strings.TrimSpace(out)
	if len(generated) < auth.MinPasswordLength || strings.Contains(errOut, generated) || !strings.Contains(errOut, "second factor") {
		t.Errorf("stdout %q, stderr %q", out, errOut)
	}
	res, err := svc.Login(ctx, "admin@rcpch.example", generated, "")
	if err != nil || !res.EnrolmentOnly {
		t.Errorf("the first admin's first login: %v %+v", err, res)
	}

	// A service token, printed once, for the owner's unit.
	out, errOut, err = cli("", "user", "token", "--email", "cat@a.example", "--pdu", "PZ041", "--access", "submit", "--expires", "720h")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	token := strings.TrimSpace(out)
	p, err := svc.Authenticate(ctx, "Bearer "+token)
	if err != nil || p.Kind != auth.KindService || p.Access != auth.AccessSubmit {
		t.Fatalf("the printed token: %v %+v", err, p)
	}
	if strings.Contains(errOut, token) {
		t.Error("the token is also on standard error")
	}

	st := store.New(db.Pool)
	for _, action := range []string{store.ActionUserCreated, store.ActionTokenCreated} {
		es, _, err := st.AccessLog(ctx, store.AccessLogQuery{Actions: []string{action}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 || es[0].Details["via"] != "command line" {
			t.Errorf("%s entries %+v", action, es)
		}
	}

	for name, tt := range map[string]struct {
		args  []string
		usage bool
	}{
		"no subcommand":  {[]string{"user"}, true},
		"bad subcommand": {[]string{"user", "delete"}, true},
		"missing flags":  {[]string{"user", "create", "--email", "x@a.example"}, true},
		"unknown role":   {[]string{"user", "create", "--email", "x@a.example", "--name", "X", "--role", "boss"}, true},
		"unknown unit":   {[]string{"user", "create", "--email", "x@a.example", "--name", "X", "--role", "reader", "--pdu", "PZ999"}, false},
		"taken email":    {[]string{"user", "create", "--email", "CAT@a.example", "--name", "X", "--role", "reader", "--pdu", "PZ041"}, false},
		"bad access":     {[]string{"user", "token", "--email", "cat@a.example", "--pdu", "PZ041", "--access", "write"}, true},
		"unknown owner":  {[]string{"user", "token", "--email", "dog@a.example", "--pdu", "PZ041", "--access", "read"}, false},
	} {
		_, _, err := cli("", tt.args...)
		if err == nil || errors.Is(err, errUsage) != tt.usage {
			t.Errorf("%s: %v (usage error: %v)", name, err, errors.Is(err, errUsage))
		}
	}
	var usage bytes.Buffer
	if err := run(ctx, []string{"--help"}, env, nil, &usage, &usage); err != nil || !strings.Contains(usage.String(), "user") {
		t.Errorf("usage lacks the user command: %v\n%s", err, usage.String())
	}
}
