package graph

import (
	"encoding/base64"
	"fmt"
	"math"
	"strings"
	"time"

	"caregraph/gis"
	"caregraph/graph/model"
	"caregraph/graph/scalar"
	"caregraph/store"
)

// MaxPageSize is the largest `first` a connection accepts: a whole reference list in one
// request.
const MaxPageSize = 1000

const defaultPageSize = 100

func pageSize(first *int) (int, error) {
	if first == nil {
		return defaultPageSize, nil
	}
	if *first < 0 || *first > MaxPageSize {
		return 0, badInput(fmt.Sprintf("first must be between 0 and %d, got %d", MaxPageSize, *first))
	}
	return *first, nil
}

func encodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("cursor:" + key))
}

func decodeCursor(after *string) (string, error) {
	if after == nil || *after == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*after)
	key, ok := strings.CutPrefix(string(b), "cursor:")
	if err != nil || !ok {
		return "", badInput("after is not a cursor from this API")
	}
	return key, nil
}

func zoomLevel(zoom *int) (int, error) {
	if zoom != nil && (*zoom < 0 || *zoom > gis.MaxZoom) {
		return 0, badInput(fmt.Sprintf("zoom must be between 0 and %d, got %d", gis.MaxZoom, *zoom))
	}
	return gis.DetailLevel(zoom), nil
}

var kindToStore = map[model.AreaKind]store.AreaKind{
	model.AreaKindCountry:             store.Country,
	model.AreaKindNhsEnglandRegion:    store.NHSEnglandRegion,
	model.AreaKindIntegratedCareBoard: store.IntegratedCareBoard,
	model.AreaKindLocalHealthBoard:    store.LocalHealthBoard,
	model.AreaKindLondonBorough:       store.LondonBorough,
}

func storeKind(k model.AreaKind) (store.AreaKind, error) {
	sk, ok := kindToStore[k]
	if !ok {
		return "", badInput(fmt.Sprintf("unknown area kind %s", k))
	}
	return sk, nil
}

func modelKind(k store.AreaKind) model.AreaKind {
	for mk, sk := range kindToStore {
		if sk == k {
			return mk
		}
	}
	return model.AreaKind(strings.ToUpper(string(k)))
}

func toArea(a store.Area) *model.Area {
	return &model.Area{
		DBID:        a.ID,
		Kind:        modelKind(a.Kind),
		Code:        a.Code,
		Name:        a.Name,
		WelshName:   a.WelshName,
		AreaSqKm:    math.Round(a.AreaSqKm*1000) / 1000,
		Centroid:    scalar.GeoJSON(a.Centroid),
		Attribution: a.Attribution,
	}
}

func toAreas(as []store.Area) []*model.Area {
	return mapAll(as, toArea)
}

func toBoundaryLayer(l store.BoundaryLayer) *model.BoundaryLayer {
	return &model.BoundaryLayer{
		Kind:         modelKind(l.Kind),
		Title:        l.Title,
		SourceURL:    l.SourceURL,
		Licence:      l.Licence,
		Attribution:  l.Attribution,
		FeatureCount: l.FeatureCount,
		ImportedAt:   l.ImportedAt.UTC().Format(time.RFC3339),
	}
}

// page trims rows read with limit+1 (one more than asked, to tell whether another page
// follows) to the page and gives each row its cursor and the page its PageInfo. It is the
// one place of the Relay paging rules; callers build their own nodes and edges.
func page[T any](rows []T, limit int, hasPrevious bool, cursor func(i int, row T) string) ([]T, []string, *model.PageInfo) {
	info := &model.PageInfo{HasPreviousPage: hasPrevious}
	if len(rows) > limit {
		rows = rows[:limit]
		info.HasNextPage = true
	}
	cursors := make([]string, len(rows))
	for i, row := range rows {
		cursors[i] = cursor(i, row)
	}
	if n := len(cursors); n > 0 {
		info.StartCursor = &cursors[0]
		info.EndCursor = &cursors[n-1]
	}
	return rows, cursors, info
}

// mapAll converts every row with to; an empty input gives an empty, non-nil list.
func mapAll[T, U any](rows []T, to func(T) U) []U {
	out := make([]U, len(rows))
	for i, r := range rows {
		out[i] = to(r)
	}
	return out
}
