package auth_test

import (
	"context"
	"testing"

	"caregraph/auth"
	"caregraph/store"
	"caregraph/store/dbtest"
)

// BenchmarkLogin measures a whole successful login with the default argon2id cost:
// the attempt counted, the password checked, the token made and the access log written.
func BenchmarkLogin(b *testing.B) {
	db := dbtest.New(b)
	ctx := context.Background()
	st := store.New(db.Pool)
	svc := auth.NewService(st, auth.Options{})
	if _, err := db.Pool.Exec(ctx, `INSERT INTO paediatric_diabetes_units (pz_code, name) VALUES ('PZ001', 'Unit')`); err != nil {
		b.Fatal(err)
	}
	if _, _, err := svc.CreateUser(ctx, auth.Operator(), auth.NewUserRequest{Email: "bench@a.example", Name: "Bench", Role: auth.Editor, PZCodes: []string{"PZ001"}, Password: "bench password"}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := svc.Login(ctx, "bench@a.example", "bench password", ""); err != nil {
			b.Fatal(err)
		}
	}
}
