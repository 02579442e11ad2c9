package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"caregraph/auth"
	"caregraph/store"
	"caregraph/store/dbtest"
)

// BenchmarkTokenAuthentication measures what the gate in front of /graphql costs per
// request, with a handler behind it that does nothing: anonymous (the address's rate
// limit only), with a token validated in the last second (the cache), and with the
// cache off (one indexed lookup of the token and its owner per request). The overhead
// of authentication is the difference to anonymous; the target is under 0.2 ms.
func BenchmarkTokenAuthentication(b *testing.B) {
	db := dbtest.New(b)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `INSERT INTO paediatric_diabetes_units (pz_code, name) VALUES ('PZ001', 'Unit')`); err != nil {
		b.Fatal(err)
	}
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	// Limits high enough never to refuse, so that their cost is measured too.
	cfg.RateLimitIP = rateLimit{Rate: 1e9, Burst: 1e9}
	cfg.RateLimitToken = rateLimit{Rate: 1e9, Burst: 1e9}
	a := newApp(cfg, slog.New(slog.DiscardHandler), db.Pool)
	if _, _, err := a.auth.CreateUser(ctx, auth.Operator(), auth.NewUserRequest{Email: "bench@a.example", Name: "Bench", Role: auth.Editor, PZCodes: []string{"PZ001"}, Password: "bench password"}); err != nil {
		b.Fatal(err)
	}
	res, err := a.auth.Login(ctx, "bench@a.example", "bench password", "")
	if err != nil {
		b.Fatal(err)
	}
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" && auth.PrincipalFrom(r.Context()) == nil {
			b.Fatal("no principal")
		}
	})
	run := func(b *testing.B, h http.Handler, header string) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest("POST", "/graphql", http.NoBody)
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	}
	b.Run("anonymous", func(b *testing.B) { run(b, a.gate(noop), "") })
	b.Run("token-cached", func(b *testing.B) { run(b, a.gate(noop), "Bearer "+res.Token) })
	b.Run("token-uncached", func(b *testing.B) {
		uncached := *a
		uncached.auth = auth.NewService(store.New(db.Pool), auth.Options{TokenCacheTTL: -1})
		run(b, uncached.gate(noop), "Bearer "+res.Token)
	})
}
