package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"caregraph/store"
)

var errBadToken = fmt.Errorf("%w: the token is invalid, expired or revoked; sign in again", ErrUnauthenticated)

// touchEvery is how stale a token's last_used_at may get before a request refreshes it:
// often enough to tell an idle token from a busy one, rarely enough that
// authentication stays a read.
const touchEvery = time.Minute

// Authenticate returns the principal of an Authorization header value ("Bearer
// cgt_…"). It fails with ErrUnauthenticated for anything but a live token of an
// active account. A validated token is cached for TokenCacheTTL (one second by
// default), so most requests cost a map lookup and a revocation reaches every replica
// within that time; on this replica it takes effect at once.
func (s *Service) Authenticate(ctx context.Context, header string) (*Principal, error) {
	text, ok := BearerToken(header)
	if !ok {
		return nil, fmt.Errorf("%w: the Authorization header must be \"Bearer <token>\"", ErrUnauthenticated)
	}
	if !wellFormedToken(text) {
		return nil, errBadToken
	}
	hash := HashToken(text)
	now := s.opt.Now()
	if p := s.tokens.get(hash, now); p != nil {
		return p, nil
	}
	a, err := s.st.TokenAuth(ctx, hash[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, err
	}
	// An audit team member without a second factor — promoted, or reset, since the token
	// was issued — may only set one up, whatever the token was issued for.
	p := &Principal{Kind: KindUser, UserID: a.UserID, TokenID: a.TokenID, Role: Role(a.Role), UnitIDs: a.UnitIDs,
		EnrolmentOnly: a.Scope == "totp_enrolment" || (Role(a.Role) == AuditTeam && !a.TOTPEnabled)}
	if a.Kind == "service" {
		// A service token never carries more than its owner has now: it stops working
		// when the owner leaves the unit and reads only once the owner may not submit.
		if s.pol.CanReadUnit(p, *a.UnitID) != nil {
			return nil, errBadToken
		}
		access := Access(*a.Access)
		if access == AccessSubmit && s.pol.CanSubmitForUnit(p, *a.UnitID) != nil {
			access = AccessRead
		}
		p = &Principal{Kind: KindService, UserID: a.UserID, TokenID: a.TokenID, Access: access, UnitIDs: []int64{*a.UnitID}}
	}
	if s.opt.TokenCacheTTL > 0 {
		until := now.Add(s.opt.TokenCacheTTL)
		if a.ExpiresAt.Before(until) {
			until = a.ExpiresAt
		}
		s.tokens.put(hash, p, until, now)
	}
	if a.LastUsedAt == nil || now.Sub(*a.LastUsedAt) > touchEvery {
		if err := s.st.TouchToken(ctx, a.TokenID); err != nil {
			s.opt.Logger.WarnContext(ctx, "record token use", "token_id", a.TokenID, "error", err)
		}
	}
	return p, nil
}

// tokenCache holds validated principals by token hash for a short time.
type tokenCache struct {
	mu  sync.Mutex
	max int
	m   map[TokenHash]cachedPrincipal
}

type cachedPrincipal struct {
	p     *Principal
	until time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, m: make(map[TokenHash]cachedPrincipal)}
}

func (c *tokenCache) get(h TokenHash, now time.Time) *Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	if !ok {
		return nil
	}
	if !now.Before(e.until) {
		delete(c.m, h)
		return nil
	}
	return e.p
}

// put adds an entry. When the cache is full it first drops the expired entries and, if
// that is not enough, all of them: entries live a second, so the cost is a second of
// database lookups, and the cache can never grow past its bound.
func (c *tokenCache) put(h TokenHash, p *Principal, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[h] = cachedPrincipal{p: p, until: until}
}

// forgetToken drops the token, so that its revocation takes effect here at once.
func (c *tokenCache) forgetToken(id int64) {
	c.forget(func(p *Principal) bool { return p.TokenID == id })
}

// forgetUser drops every token of the user, so that a change of role, units or status
// takes effect here at once.
func (c *tokenCache) forgetUser(id int64) {
	c.forget(func(p *Principal) bool { return p.UserID == id })
}

func (c *tokenCache) forget(match func(*Principal) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if match(e.p) {
			delete(c.m, k)
		}
	}
}
