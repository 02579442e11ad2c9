package store_test

import (
	"context"
	"fmt"
	"testing"

	"caregraph/store"
	"caregraph/store/dbtest"

	"github.com/jackc/pgx/v5"
)

// TestLocatorAgreesWithSQL compares the in-memory lookup with the SQL one (the point
// transformed to British National Grid and tested against the stored geometry) on a
// grid of points over the whole UK and its seas.
func TestLocatorAgreesWithSQL(t *testing.T) {
	ctx := context.Background()
	db := dbtest.NewWithBoundaries(t)
	st := store.New(db.Pool)
	loc := store.NewAreaLocator(st, 0, nil)

	type pt struct{ lat, lon float64 }
	var pts []pt
	for lat := 49.85; lat < 61; lat += 0.13 {
		for lon := -8.2; lon < 2; lon += 0.13 {
			pts = append(pts, pt{lat, lon})
		}
	}
	// Dense around London, where boroughs are small.
	for lat := 51.28; lat < 51.7; lat += 0.011 {
		for lon := -0.52; lon < 0.34; lon += 0.017 {
			pts = append(pts, pt{lat, lon})
		}
	}
	batch := &pgx.Batch{}
	for _, p := range pts {
		batch.Queue(`SELECT COALESCE(string_agg(code, ',' ORDER BY code), '') FROM areas
			WHERE ST_Intersects(geom, ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), 27700))`, p.lon, p.lat)
	}
	br := db.Pool.SendBatch(ctx, batch)
	defer br.Close()
	inside, mismatches := 0, 0
	for _, p := range pts {
		var want string
		if err := br.QueryRow().Scan(&want); err != nil {
			t.Fatal(err)
		}
		got, err := loc.AreasAt(ctx, p.lat, p.lon)
		if err != nil {
			t.Fatal(err)
		}
		codes := make([]string, len(got))
		for i, a := range got {
			codes[i] = a.Code
		}
		if g := sortedJoin(codes); g != want {
			mismatches++
			if mismatches <= 5 {
				t.Errorf("(%.3f, %.3f): locator %s, SQL %s", p.lat, p.lon, g, want)
			}
		}
		if want != "" {
			inside++
		}
	}
	if mismatches > 0 {
		t.Errorf("%d of %d points disagree", mismatches, len(pts))
	}
	if inside < len(pts)/4 {
		t.Errorf("only %d of %d points fell in any area: the grid misses the UK", inside, len(pts))
	}
	t.Logf("%d points compared, %d inside some area", len(pts), inside)
}

func sortedJoin(codes []string) string {
	for i := 1; i < len(codes); i++ {
		for j := i; j > 0 && codes[j] < codes[j-1]; j-- {
			codes[j], codes[j-1] = codes[j-1], codes[j]
		}
	}
	s := ""
	for i, c := range codes {
		if i > 0 {
			s += ","
		}
		s += c
	}
	return fmt.Sprint(s)
}
