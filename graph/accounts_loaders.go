package graph

import (
	"context"

	"caregraph/graph/model"
	"caregraph/store"

	"github.com/vikstrous/dataloadgen"
)

// AccountLoaders batch the relations of accounts, tokens and access log entries.
type AccountLoaders struct {
	// Users are accounts by id.
	Users *dataloadgen.Loader[int64, store.User]
	// UnitMembers are the accounts of each unit, by unit id.
	UnitMembers *dataloadgen.Loader[int64, []store.User]
	// Units are units by id as they are today.
	Units *dataloadgen.Loader[int64, *model.PaediatricDiabetesUnit]
}

func newAccountLoaders(st *store.Store) *AccountLoaders {
	wait := dataloadgen.WithWait(loaderWait)
	return &AccountLoaders{
		Users: dataloadgen.NewMappedLoader(st.UsersByID, wait),
		UnitMembers: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []int64) (map[int64][]store.User, error) {
			m, err := st.UsersOfUnits(ctx, ids)
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				if _, ok := m[id]; !ok {
					m[id] = []store.User{} // a unit without accounts is no error
				}
			}
			return m, nil
		}, wait),
		Units: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []int64) (map[int64]*model.PaediatricDiabetesUnit, error) {
			day := today()
			keys := make([]store.UnitKey, len(ids))
			for i, id := range ids {
				keys[i] = store.UnitKey{ID: id, On: day}
			}
			us, err := st.UnitsByKey(ctx, keys)
			if err != nil {
				return nil, err
			}
			out := make(map[int64]*model.PaediatricDiabetesUnit, len(us))
			for k, u := range us {
				out[k.ID] = toUnit(u)
			}
			return out, nil
		}, wait),
	}
}
