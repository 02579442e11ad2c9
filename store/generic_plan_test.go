package store_test

import (
	"context"
	"testing"
	"time"

	"caregraph/store"
	"caregraph/store/dbtest"
)

// TestGenericPlanSettingDoesNotLeak: the plan settings sent with register statements
// end with them, on the connection and inside a caller's transaction alike.
func TestGenericPlanSettingDoesNotLeak(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	st := store.New(conn.Conn())
	mode := func(st *store.Store) string {
		t.Helper()
		var m string
		if err := st.QueryRowForTest(ctx, `SHOW plan_cache_mode`).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if _, err := st.OrganisationsByKey(ctx, []store.OrgKey{{ID: 1, On: store.Day(time.Now())}}); err != nil {
		t.Fatal(err)
	}
	if m := mode(st); m != "auto" {
		t.Errorf("plan_cache_mode after the statement: %q, want auto", m)
	}
	// A long lookup is planned for its keys instead: that setting ends with it too.
	many := make([]store.UnitKey, 100)
	for i := range many {
		many[i] = store.UnitKey{ID: int64(i + 1), On: store.Day(time.Now())}
	}
	if _, err := st.UnitsByKey(ctx, many); err != nil {
		t.Fatal(err)
	}
	if m := mode(st); m != "auto" {
		t.Errorf("plan_cache_mode after a long lookup: %q, want auto", m)
	}
	err = st.InTx(ctx, func(tx *store.Store) error {
		if _, err := tx.OrganisationsByKey(ctx, []store.OrgKey{{ID: 1, On: store.Day(time.Now())}}); err != nil {
			return err
		}
		if m := mode(tx); m != "auto" {
			t.Errorf("plan_cache_mode later in the transaction: %q, want auto", m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
