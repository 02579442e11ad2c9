package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"caregraph/store"
)

// TestRelatedObjectsFollowRegisterChanges: the trusts, units and networks a lookup leads
// to are kept across requests, and a committed change to the register, through the store
// or straight in SQL, shows in the very next request; a rolled-back one changes nothing.
func TestRelatedObjectsFollowRegisterChanges(t *testing.T) {
	s := newOrgServer(t)
	ctx := context.Background()
	const q = `{ organisation(odsCode: "RGT01") {
		trust { odsCode name }
		paediatricDiabetesUnit { pzCode network { code name } }
		paediatricDiabetesNetwork { code name }
	} }`
	type net struct{ Code, Name string }
	var got struct {
		Organisation struct {
			Trust                  struct{ OdsCode, Name string }
			PaediatricDiabetesUnit struct {
				PzCode  string
				Network net
			}
			PaediatricDiabetesNetwork net
		}
	}
	ask := func() int64 {
		t.Helper()
		before := s.counter.n.Load()
		s.mustQuery(t, q, nil, &got)
		return s.counter.n.Load() - before
	}
	cold := ask()
	if got.Organisation.Trust.OdsCode != "RGT" || got.Organisation.PaediatricDiabetesUnit.Network.Code != "PN06" {
		t.Fatalf("RGT01: %+v", got.Organisation)
	}
	oldName := got.Organisation.Trust.Name
	if warm := ask(); warm >= cold {
		t.Errorf("the second lookup ran %d statements, the first %d: nothing was kept", warm, cold)
	}

	// A rename through the store, dated today.
	today := store.Day(time.Now())
	if _, err := s.st.SetName(ctx, "RGT", "CAMBRIDGE UNIVERSITY HOSPITALS (RENAMED)", today); err != nil {
		t.Fatal(err)
	}
	ask()
	if got.Organisation.Trust.Name != "CAMBRIDGE UNIVERSITY HOSPITALS (RENAMED)" {
		t.Errorf("trust after the rename: %q (was %q)", got.Organisation.Trust.Name, oldName)
	}

	// A change made in SQL, outside the store, shows as well: the unit's network and the
	// site's network are the renamed one.
	if _, err := s.db.Pool.Exec(ctx, `UPDATE paediatric_diabetes_networks SET name = 'East of England (renamed)' WHERE code = 'PN06'`); err != nil {
		t.Fatal(err)
	}
	ask()
	if n := got.Organisation.PaediatricDiabetesUnit.Network.Name; n != "East of England (renamed)" {
		t.Errorf("unit's network after the SQL update: %q", n)
	}
	if n := got.Organisation.PaediatricDiabetesNetwork.Name; n != "East of England (renamed)" {
		t.Errorf("site's network after the SQL update: %q", n)
	}

	// A change that is rolled back leaves the register's version alone.
	v, err := s.st.RegisterVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	errUndo := errors.New("undo")
	err = s.st.InTx(ctx, func(tx *store.Store) error {
		if _, err := tx.SetName(ctx, "RGT", "NEVER SEEN", today.AddDate(0, 0, 1)); err != nil {
			return err
		}
		return errUndo
	})
	if !errors.Is(err, errUndo) {
		t.Fatal(err)
	}
	if after, err := s.st.RegisterVersion(ctx); err != nil || after != v {
		t.Errorf("version after a rolled-back change: %d, %v; want %d", after, err, v)
	}
	// A committed one raises it, at commit.
	if _, err := s.st.SetName(ctx, "RGT", "CAMBRIDGE UNIVERSITY HOSPITALS NHS FOUNDATION TRUST", today); err != nil {
		t.Fatal(err)
	}
	if after, err := s.st.RegisterVersion(ctx); err != nil || after <= v {
		t.Errorf("version after a committed change: %d, %v; want more than %d", after, err, v)
	}
	ask()
	if got.Organisation.Trust.Name != "CAMBRIDGE UNIVERSITY HOSPITALS NHS FOUNDATION TRUST" {
		t.Errorf("trust after the second rename: %q", got.Organisation.Trust.Name)
	}

	// Where a site belongs is kept too: a list asked twice, then after the site moved to
	// another trust, shows the move.
	trustOf := func(code string) string {
		t.Helper()
		var list struct {
			Organisations struct {
				Nodes []struct {
					OdsCode string
					Trust   *struct{ OdsCode string }
				}
			}
		}
		s.mustQuery(t, `{ organisations(first: 1000) { nodes { odsCode trust { odsCode } } } }`, nil, &list)
		for _, n := range list.Organisations.Nodes {
			if n.OdsCode == code && n.Trust != nil {
				return n.Trust.OdsCode
			}
		}
		return ""
	}
	if a, b := trustOf("RGT01"), trustOf("RGT01"); a != "RGT" || b != "RGT" {
		t.Fatalf("RGT01's trust in the list: %q then %q", a, b)
	}
	if _, err := s.st.SetParent(ctx, "RGT01", "RGN", today); err != nil {
		t.Fatal(err)
	}
	if got := trustOf("RGT01"); got != "RGN" {
		t.Errorf("RGT01's trust in the list after the move: %q, want RGN", got)
	}
}

// TestRelatedCacheUnderConcurrentRequests: lookups and lists in parallel with changes to
// the register all succeed, and once the changes stop the next request shows the last.
func TestRelatedCacheUnderConcurrentRequests(t *testing.T) {
	s := newOrgServer(t)
	ctx := context.Background()
	today := store.Day(time.Now())
	queries := []string{
		`{ organisation(odsCode: "RGT01") { trust { name } integratedCareBoard { odsCode } paediatricDiabetesUnit { network { name } } } }`,
		`{ organisations(first: 400) { nodes { odsCode trust { name } nhsEnglandRegion { odsCode } } } }`,
	}
	errs := make(chan error, 8)
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			var err error
			for j := 0; j < 15 && err == nil; j++ {
				err = postQuery(s.URL, queries[(i+j)%len(queries)])
			}
			errs <- err
		}()
	}
	go func() {
		defer close(done)
		for i := range 5 {
			if _, err := s.st.SetName(ctx, "RGT", "TRUST NAME "+string(rune('A'+i)), today); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 8 {
		if err := <-errs; err != nil {
			t.Errorf("query during changes: %v", err)
		}
	}
	<-done
	var got struct {
		Organisation struct{ Trust struct{ Name string } }
	}
	s.mustQuery(t, queries[0], nil, &got)
	if got.Organisation.Trust.Name != "TRUST NAME E" {
		t.Errorf("trust after the changes: %q, want TRUST NAME E", got.Organisation.Trust.Name)
	}
}

// postQuery sends a query and returns what went wrong, if anything; unlike the test
// server's helpers it may run outside the test's goroutine.
func postQuery(url, query string) error {
	body, err := json.Marshal(map[string]any{"query": query})
	if err != nil {
		return err
	}
	resp, err := http.Post(url+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	if len(r.Errors) > 0 {
		return errors.New(r.Errors[0].Message)
	}
	return nil
}
