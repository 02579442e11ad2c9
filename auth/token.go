package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// TokenPrefix starts every caregraph bearer token, so that secret scanners (and people)
// can recognise one pasted where it should not be.
const TokenPrefix = "cgt_"

// tokenSecretLen is the random part of a token: 32 bytes, 256 bits.
const tokenSecretLen = 32

// tokenTextLen is the length of a whole token: the prefix and 43 base64url characters.
var tokenTextLen = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(tokenSecretLen)

// TokenHash is the SHA-256 of a token's text: the only form the database keeps. A
// plain hash suffices (no salt, no argon2) because the secret is 256 random bits, which
// no dictionary holds and no search can reach.
type TokenHash [sha256.Size]byte

// NewToken returns a fresh random token and its hash. The text is shown to its owner
// once and never stored.
func NewToken() (string, TokenHash) {
	b := make([]byte, tokenSecretLen)
	rand.Read(b)
	text := TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return text, HashToken(text)
}

// HashToken returns the hash under which a token is stored.
func HashToken(text string) TokenHash { return sha256.Sum256([]byte(text)) }

// wellFormedToken reports whether text could be a token this server issued; anything
// else is refused without a database lookup.
func wellFormedToken(text string) bool {
	if len(text) != tokenTextLen || !strings.HasPrefix(text, TokenPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(text[len(TokenPrefix):])
	return err == nil
}

// BearerToken extracts the token from an Authorization header value ("Bearer cgt_…");
// ok is false when the header names another scheme or is empty.
func BearerToken(header string) (token string, ok bool) {
	scheme, rest, found := strings.Cut(strings.TrimSpace(header), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	return rest, rest != ""
}
