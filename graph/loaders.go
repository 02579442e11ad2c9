package graph

import (
	"context"
	"net/http"
	"time"

	"caregraph/store"

	"github.com/vikstrous/dataloadgen"
)

// Loaders batch relation lookups of one request into a constant number of queries.
type Loaders struct {
	Shapes *dataloadgen.Loader[store.ShapeKey, []byte]
	// Accounts are the loaders of accounts_loaders.go.
	Accounts *AccountLoaders
	// Orgs are the loaders of organisations_loaders.go.
	Orgs *OrgLoaders
	// Datasets are the loaders of datasets_loaders.go.
	Datasets *DatasetLoaders
	// Audit are the loaders of submissions_loaders.go.
	Audit *AuditLoaders
	// KPIs are the loaders of kpis.go.
	KPIs *KPILoaders
}

type loadersKey struct{}

// loaderWait is how long a loader gathers keys before it runs its batch: long enough for
// the sibling resolvers of a list, which ask concurrently, to land in one batch (and
// stretched under the race detector, which slows them; see race_on.go).
const loaderWait = raceSlowdown * time.Millisecond

// NewLoaders returns a fresh set of loaders over st; they cache for one request only.
func NewLoaders(st *store.Store) *Loaders {
	return &Loaders{
		Shapes:   dataloadgen.NewMappedLoader(st.Shapes, dataloadgen.WithWait(loaderWait)),
		Accounts: newAccountLoaders(st),
		Orgs:     newOrgLoaders(st),
		Datasets: newDatasetLoaders(st),
		Audit:    newAuditLoaders(st),
		KPIs:     newKPILoaders(st),
	}
}

// WithLoaders gives every request its own loaders.
func WithLoaders(st *store.Store, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), loadersKey{}, NewLoaders(st))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// loadersFrom returns the request's loaders, or fresh ones outside an HTTP request.
func (r *Resolver) loaders(ctx context.Context) *Loaders {
	if l, ok := ctx.Value(loadersKey{}).(*Loaders); ok {
		return l
	}
	return NewLoaders(r.Store)
}
