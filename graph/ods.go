package graph

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"caregraph/auth"
	"caregraph/graph/generated"
	"caregraph/graph/model"
	"caregraph/graph/scalar"
	"caregraph/store"
)

// decideOdsReview approves or rejects a review item for an admin; the store applies the
// change and writes the access log in one transaction.
func (r *mutationResolver) decideOdsReview(ctx context.Context, id string, note *string, approve bool) (*model.OdsReviewItem, error) {
	p := auth.PrincipalFrom(ctx)
	if err := r.Auth.Policy().CanReviewODSChanges(p); err != nil {
		return nil, err
	}
	dbID, err := decodeDBID("OdsReviewItem", id)
	if err != nil {
		return nil, err
	}
	d := store.ReviewDecision{ID: dbID, Approve: approve, IP: auth.ClientIP(ctx), Today: time.Now()}
	if p.Kind == auth.KindUser {
		uid := p.UserID
		d.AdminID = &uid
	}
	if note != nil {
		d.Note = strings.TrimSpace(*note)
	}
	it, err := r.Store.DecideODSReview(ctx, d)
	if err != nil {
		return nil, err
	}
	return toReviewItem(it), nil
}

func reviewStatus(s *model.OdsReviewStatus) store.ReviewStatus {
	if s == nil {
		return store.ReviewPending
	}
	return store.ReviewStatus(strings.ToLower(string(*s)))
}

func reviewCursor(after *string) (int64, error) {
	key, err := decodeCursor(after)
	if err != nil || key == "" {
		return 0, err
	}
	n, err := strconv.ParseInt(key, 10, 64)
	if err != nil || n < 0 {
		return 0, badInput("after is not a cursor from this API")
	}
	return n, nil
}

func toReviewItem(it store.ODSReviewItem) *model.OdsReviewItem {
	m := &model.OdsReviewItem{
		ID:        model.EncodeID("OdsReviewItem", strconv.FormatInt(it.ID, 10)),
		OdsCode:   it.ODSCode,
		Kind:      model.OdsReviewKind(strings.ToUpper(string(it.Kind))),
		Detail:    it.Detail,
		Status:    model.OdsReviewStatus(strings.ToUpper(string(it.Status))),
		CreatedAt: rfc3339(it.CreatedAt),
		DecidedAt: rfc3339Ptr(it.DecidedAt),
	}
	if it.SuccessorCode != "" {
		m.SuccessorCode = &it.SuccessorCode
	}
	if it.EffectiveOn != nil {
		m.EffectiveOn = &scalar.Date{Time: *it.EffectiveOn}
	}
	if it.ODSChangeDate != nil {
		m.OdsChangeDate = &scalar.Date{Time: *it.ODSChangeDate}
	}
	if it.DecidedByEmail != "" {
		m.DecidedBy = &it.DecidedByEmail
	}
	if it.DecisionNote != "" {
		m.DecisionNote = &it.DecisionNote
	}
	return m
}

func reviewConnection(items []store.ODSReviewItem, total, limit int, hasPrev bool) *model.OdsReviewItemConnection {
	c := &model.OdsReviewItemConnection{TotalCount: total, PageInfo: &model.PageInfo{HasPreviousPage: hasPrev}, Nodes: []*model.OdsReviewItem{}}
	if len(items) > limit {
		items = items[:limit]
		c.PageInfo.HasNextPage = true
	}
	for _, it := range items {
		c.Nodes = append(c.Nodes, toReviewItem(it))
	}
	if len(items) > 0 {
		start, end := encodeCursor(fmt.Sprint(items[0].ID)), encodeCursor(fmt.Sprint(items[len(items)-1].ID))
		c.PageInfo.StartCursor, c.PageInfo.EndCursor = &start, &end
	}
	return c
}

// odsComplexity sets the costs of the fields of ods.graphqls.
func odsComplexity(c *generated.ComplexityRoot) {
	c.Query.OdsReviewItems = func(child int, _ *model.OdsReviewStatus, first *int, _ *string) int { return pageCost(child, first) }
}
