package main

import (
	"context"
	"errors"
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
