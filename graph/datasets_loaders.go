package graph

import (
	"context"

	"caregraph/store"

	"github.com/vikstrous/dataloadgen"
)

// optionsKey asks for the options of one dataset, filtered as one field asked.
type optionsKey struct {
	ID     int64
	Search string
	Limit  int
}

// auditKey asks for the latest Limit audit entries of one dataset.
type auditKey struct {
	ID    int64
	Limit int
}

// DatasetLoaders batch the dataset relations of one request: the options of every
// dataset on a page come in one statement per distinct (search, first), whatever the
// page's length.
type DatasetLoaders struct {
	Options *dataloadgen.Loader[optionsKey, []store.Option]
	Dataset *dataloadgen.Loader[int64, store.Dataset]
	Audit   *dataloadgen.Loader[auditKey, []store.AuditEntry]
}

func newDatasetLoaders(st *store.Store) *DatasetLoaders {
	wait := dataloadgen.WithWait(loaderWait)
	return &DatasetLoaders{
		Options: dataloadgen.NewMappedLoader(func(ctx context.Context, keys []optionsKey) (map[optionsKey][]store.Option, error) {
			groups := map[store.OptionQuery][]int64{}
			for _, k := range keys {
				q := store.OptionQuery{Search: k.Search, Limit: k.Limit}
				groups[q] = append(groups[q], k.ID)
			}
			out := make(map[optionsKey][]store.Option, len(keys))
			for q, ids := range groups {
				got, err := st.SearchOptions(ctx, ids, q)
				if err != nil {
					return nil, err
				}
				for _, id := range ids {
					// A dataset with no match still gets an answer: an empty list.
					out[optionsKey{ID: id, Search: q.Search, Limit: q.Limit}] = got[id]
				}
			}
			return out, nil
		}, wait),
		Dataset: dataloadgen.NewMappedLoader(st.DatasetsByID, wait),
		Audit: dataloadgen.NewMappedLoader(func(ctx context.Context, keys []auditKey) (map[auditKey][]store.AuditEntry, error) {
			byLimit := map[int][]int64{}
			for _, k := range keys {
				byLimit[k.Limit] = append(byLimit[k.Limit], k.ID)
			}
			out := make(map[auditKey][]store.AuditEntry, len(keys))
			for limit, ids := range byLimit {
				got, err := st.DatasetAudit(ctx, ids, limit)
				if err != nil {
					return nil, err
				}
				for _, id := range ids {
					out[auditKey{ID: id, Limit: limit}] = got[id]
				}
			}
			return out, nil
		}, wait),
	}
}
