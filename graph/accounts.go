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

// visibleUser loads the account id (nil gives nil) and returns it if the caller may
// see it. Nested paths to an account ask the Policy too, so that a User is guarded
// however it is reached.
func (r *Resolver) visibleUser(ctx context.Context, id *int64) (*model.User, error) {
	if id == nil {
		return nil, nil
	}
	u, err := r.loaders(ctx).Accounts.Users.Load(ctx, *id)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := r.Auth.Policy().CanViewUser(auth.PrincipalFrom(ctx), auth.SubjectOf(u)); err != nil {
		return nil, err
	}
	return toUser(u), nil
}

// unitByID loads a unit as it is today (nil gives nil).
func (r *Resolver) unitByID(ctx context.Context, id *int64) (*model.PaediatricDiabetesUnit, error) {
	if id == nil {
		return nil, nil
	}
	u, err := r.loaders(ctx).Accounts.Units.Load(ctx, *id)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

// unitFilter resolves a PZ code a caller filters by. The Policy decides first, with an
// unknown code counting as a unit nobody belongs to, so a coordinator learns nothing
// about units that are not theirs; check is the Policy method to ask.
func (r *Resolver) unitFilter(ctx context.Context, pzCode *string, check func(*auth.Principal, int64) error) (*int64, error) {
	if pzCode == nil {
		return nil, nil
	}
	code := normaliseCode(*pzCode)
	ids, err := r.Store.UnitIDsByPZ(ctx, []string{code})
	if err != nil {
		return nil, err
	}
	id := ids[code]
	if err := check(auth.PrincipalFrom(ctx), id); err != nil {
		return nil, err
	}
	if id == 0 {
		return nil, badInput(fmt.Sprintf("no unit with PZ code %s", code))
	}
	return &id, nil
}

func (r *Resolver) userQuery(ctx context.Context, filter *model.UserFilter, first *int, after *string) (store.UserQuery, error) {
	all, scope, err := r.Auth.Policy().UserListScope(auth.PrincipalFrom(ctx))
	if err != nil {
		return store.UserQuery{}, err
	}
	q := store.UserQuery{All: all, ScopeUnitIDs: scope}
	if filter != nil {
		if q.UnitID, err = r.unitFilter(ctx, filter.PzCode, r.Auth.Policy().CanManageUsersOfUnit); err != nil {
			return q, err
		}
		if filter.Role != nil {
			role := string(toAuthRole(*filter.Role))
			q.Role = &role
		}
		q.Active = filter.Active
		if filter.Search != nil {
			q.Search = *filter.Search
		}
	}
	if q.Limit, err = pageSize(first); err != nil {
		return q, err
	}
	q.AfterEmail, err = decodeCursor(after)
	return q, err
}

func userConnection(rows []store.User, total, limit int, hasPrevious bool) *model.UserConnection {
	rows, cursors, info := page(rows, limit, hasPrevious, func(_ int, u store.User) string { return encodeCursor(strings.ToLower(u.Email)) })
	conn := &model.UserConnection{TotalCount: total, PageInfo: info, Nodes: make([]*model.User, len(rows)), Edges: make([]*model.UserEdge, len(rows))}
	for i, u := range rows {
		conn.Nodes[i] = toUser(u)
		conn.Edges[i] = &model.UserEdge{Cursor: cursors[i], Node: conn.Nodes[i]}
	}
	return conn
}

func (r *Resolver) accessLogQuery(ctx context.Context, filter *model.AccessLogFilter, first *int, after *string) (store.AccessLogQuery, error) {
	var q store.AccessLogQuery
	var err error
	if filter != nil {
		if filter.UserID != nil {
			id, err := decodeDBID("User", *filter.UserID)
			if err != nil {
				return q, err
			}
			q.UserID = &id
		}
		if filter.ActingAdminID != nil {
			id, err := decodeDBID("User", *filter.ActingAdminID)
			if err != nil {
				return q, err
			}
			q.AdminID = &id
		}
		if q.UnitID, err = r.unitFilter(ctx, filter.PzCode, r.Auth.Policy().CanReadUnit); err != nil {
			return q, err
		}
		for _, a := range filter.Actions {
			q.Actions = append(q.Actions, strings.ToLower(string(a)))
		}
		if q.Since, err = parseTime("since", filter.Since); err != nil {
			return q, err
		}
		if q.Until, err = parseTime("until", filter.Until); err != nil {
			return q, err
		}
	}
	if q.Limit, err = pageSize(first); err != nil {
		return q, err
	}
	cursor, err := decodeCursor(after)
	if err != nil {
		return q, err
	}
	if cursor != "" {
		if q.BeforeID, err = strconv.ParseInt(cursor, 10, 64); err != nil || q.BeforeID <= 0 {
			return q, badInput("after is not a cursor of the access log")
		}
	}
	return q, nil
}

func accessLogConnection(rows []store.AccessEntry, total, limit int, hasPrevious bool) (*model.AccessLogConnection, error) {
	rows, cursors, info := page(rows, limit, hasPrevious, func(_ int, e store.AccessEntry) string { return encodeCursor(strconv.FormatInt(e.ID, 10)) })
	conn := &model.AccessLogConnection{TotalCount: total, PageInfo: info, Nodes: make([]*model.AccessLogEntry, len(rows)), Edges: make([]*model.AccessLogEdge, len(rows))}
	for i, e := range rows {
		n, err := toAccessLogEntry(e)
		if err != nil {
			return nil, err
		}
		conn.Nodes[i] = n
		conn.Edges[i] = &model.AccessLogEdge{Cursor: cursors[i], Node: n}
	}
	return conn, nil
}

// accountNode answers node(id) for the account types, through the same Policy checks
// as their own lookups.
func (r *Resolver) accountNode(ctx context.Context, typeName, key string) (model.Node, error) {
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil {
		return nil, badInput("id is not an identifier from this API")
	}
	p := auth.PrincipalFrom(ctx)
	pol := r.Auth.Policy()
	switch typeName {
	case "User":
		u, err := r.Store.UserByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, pol.CanViewUser(p, auth.UserSubject{})
		}
		if err != nil {
			return nil, err
		}
		if err := pol.CanViewUser(p, auth.SubjectOf(u)); err != nil {
			return nil, err
		}
		return toUser(u), nil
	case "Token":
		t, err := r.Store.TokenByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, pol.CanManageTokensOf(p, auth.UserSubject{})
		}
		if err != nil {
			return nil, err
		}
		owner, err := r.Store.UserByID(ctx, t.UserID)
		if err != nil {
			return nil, err
		}
		if err := pol.CanManageTokensOf(p, auth.SubjectOf(owner)); err != nil {
			return nil, err
		}
		return toToken(t, currentTokenID(p)), nil
	case "AccessLogEntry":
		if err := pol.CanReadAccessLog(p); err != nil {
			return nil, err
		}
		e, err := r.Store.AccessEntryByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return toAccessLogEntry(e)
	}
	return nil, badInput(fmt.Sprintf("id names an unknown type %q", typeName))
}
