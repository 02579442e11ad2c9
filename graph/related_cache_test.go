package graph

import (
	"testing"
)

// TestFetchCachedKeepsOnlyUnderTheVersionRead: values are served from the cache under the
// version they were read for, a request that read an older version neither uses nor
// fills it, and missing keys are not kept.
func TestFetchCachedKeepsOnlyUnderTheVersionRead(t *testing.T) {
	c := NewRelatedCache()
	c.version = 7
	held := map[int64]string{}
	var asked [][]int64
	load := func(ids []int64) (map[int64]string, error) {
		asked = append(asked, ids)
		out := map[int64]string{}
		for _, id := range ids {
			if id != 3 { // 3 names nothing
				out[id] = "v" + string(rune('0'+id))
			}
		}
		return out, nil
	}
	got, err := fetchCached(c, 7, held, []int64{1, 2, 3}, load)
	if err != nil || len(got) != 2 || got[1] != "v1" || got[2] != "v2" {
		t.Fatalf("first fetch: %v %v", got, err)
	}
	if len(held) != 2 {
		t.Fatalf("kept %v, want 1 and 2", held)
	}
	asked = nil
	if got, _ := fetchCached(c, 7, held, []int64{1, 2, 3}, load); len(got) != 2 || len(asked) != 1 || len(asked[0]) != 1 || asked[0][0] != 3 {
		t.Errorf("second fetch: %v, asked %v; want only 3 asked again", got, asked)
	}
	// A request that read version 6 before the cache moved to 7 asks for everything and
	// keeps nothing.
	asked = nil
	if got, _ := fetchCached(c, 6, held, []int64{1, 4}, load); len(got) != 2 || len(asked) != 1 || len(asked[0]) != 2 {
		t.Errorf("stale request: %v, asked %v", got, asked)
	}
	if _, ok := held[4]; ok {
		t.Error("a value read under an older version was kept")
	}
	// No cache: every key is loaded.
	asked = nil
	var none *RelatedCache
	if got, _ := fetchCached(none, 0, map[string]string(nil), []string{"E92000001"}, func(codes []string) (map[string]string, error) {
		return map[string]string{codes[0]: "England"}, nil
	}); got["E92000001"] != "England" {
		t.Errorf("without a cache: %v", got)
	}
}

// TestFetchCachedStartsAfreshPastTheLimit: a kind that would outgrow the limit is
// emptied before the new values go in.
func TestFetchCachedStartsAfreshPastTheLimit(t *testing.T) {
	c := NewRelatedCache()
	held := map[int]int{}
	for i := range relatedCacheLimit {
		held[i] = i
	}
	_, err := fetchCached(c, 0, held, []int{-1, -2}, func(ks []int) (map[int]int, error) {
		return map[int]int{-1: 1, -2: 2}, nil
	})
	if err != nil || len(held) != 2 {
		t.Errorf("held %d values after passing the limit, want 2 (%v)", len(held), err)
	}
}
