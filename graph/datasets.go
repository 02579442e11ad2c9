package graph

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"caregraph/auth"
	"caregraph/graph/model"
	"caregraph/store"

	"github.com/vikstrous/dataloadgen"
)

// datasetPolicy is the Policy that decides who sees and changes datasets: the auth
// service's, or, where a resolver is built without one (tools, tests of the schema
// alone), the zero Policy, which holds no state and decides the same.
func (r *Resolver) datasetPolicy() auth.Policy {
	if r.Auth != nil {
		return r.Auth.Policy()
	}
	return auth.Policy{}
}

// visibleDataset loads a dataset by key as p may see it: a dataset p may not see is
// reported as not found, so that private lists do not reveal that they exist.
func (r *Resolver) visibleDataset(ctx context.Context, key string) (*model.Dataset, error) {
	d, err := r.Store.DatasetByKey(ctx, strings.TrimSpace(key))
	if err != nil {
		return nil, err
	}
	m := toDataset(d)
	if r.datasetPolicy().CanReadDataset(auth.PrincipalFrom(ctx), datasetSubject(m)) != nil {
		return nil, store.ErrNotFound
	}
	return m, nil
}

// datasetByID loads a dataset through the request's loader, nil when it does not exist
// or p may not see it.
func (r *Resolver) datasetByID(ctx context.Context, id int64) (*model.Dataset, error) {
	d, err := r.loaders(ctx).Datasets.Dataset.Load(ctx, id)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := toDataset(d)
	if r.datasetPolicy().CanReadDataset(auth.PrincipalFrom(ctx), datasetSubject(m)) != nil {
		return nil, nil
	}
	return m, nil
}

// datasetNode answers node(id:) for datasets and job runs.
func (r *Resolver) datasetNode(ctx context.Context, typeName, key string) (model.Node, error) {
	switch typeName {
	case "Dataset":
		d, err := r.visibleDataset(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		d.Alone = true
		return d, nil
	case "JobRun":
		if err := r.datasetPolicy().CanReadJobRuns(auth.PrincipalFrom(ctx)); err != nil {
			return nil, err
		}
		id, err := strconv.ParseInt(key, 10, 64)
		if err != nil {
			return nil, badInput("id is not a JobRun identifier from this API")
		}
		runs, err := r.Store.JobRunsByID(ctx, []int64{id})
		if err != nil || len(runs) == 0 {
			return nil, err
		}
		return toJobRun(runs[0]), nil
	}
	return nil, badInput(fmt.Sprintf("id names an unknown type %q", typeName))
}

// owningUnit resolves the unit a new list belongs to: the PZ code given, else p's
// primary unit, else none.
func (r *Resolver) owningUnit(ctx context.Context, p *auth.Principal, pzCode *string) (*int64, error) {
	if pzCode != nil && strings.TrimSpace(*pzCode) != "" {
		code := strings.ToUpper(strings.TrimSpace(*pzCode))
		ids, err := r.Store.UnitIDsByPZ(ctx, []string{code})
		if err != nil {
			return nil, err
		}
		id, ok := ids[code]
		if !ok {
			return nil, badInput(fmt.Sprintf("there is no unit with PZ code %s", code))
		}
		return &id, nil
	}
	if p != nil && len(p.UnitIDs) > 0 {
		id := p.UnitIDs[0]
		return &id, nil
	}
	return nil, nil
}

// editableDataset loads a dataset p may see and then asks check whether p may change it.
func (r *Resolver) editableDataset(ctx context.Context, key string, check func(*auth.Principal, auth.DatasetSubject) error) (*model.Dataset, *auth.Principal, error) {
	p := auth.PrincipalFrom(ctx)
	if p == nil {
		return nil, nil, check(nil, auth.DatasetSubject{UserCreated: true})
	}
	d, err := r.visibleDataset(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	if err := check(p, datasetSubject(d)); err != nil {
		return nil, nil, err
	}
	return d, p, nil
}

// aloneDataset maps a dataset answered on its own (see model.Dataset.Alone).
func aloneDataset(d store.Dataset) *model.Dataset {
	m := toDataset(d)
	m.Alone = true
	return m
}

// datasetWriteError turns the store's refusals into messages for the caller.
func datasetWriteError(err error) error {
	if errors.Is(err, store.ErrNoOptions) {
		return badInput("a list needs at least one option")
	}
	return err
}
