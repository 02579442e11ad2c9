package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"hash"
	"net/url"
	"strings"
	"time"
)

// TOTP as RFC 6238 with the parameters every authenticator app supports: HMAC-SHA-1,
// 30-second steps, 6 digits. A code is accepted one step either side of the server's
// clock, which covers phones a little fast or slow and a code typed as it rolls over.
const (
	TOTPPeriod    = 30 * time.Second
	TOTPDigits    = 6
	TOTPSkew      = 1
	totpSecretLen = 20 // 160 bits, the HMAC-SHA-1 block-size recommendation of RFC 4226
)

// NewTOTPSecret returns a random shared secret.
func NewTOTPSecret() []byte {
	s := make([]byte, totpSecretLen)
	rand.Read(s)
	return s
}

// TOTPStep is the time step t falls in.
func TOTPStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// TOTPCode returns the 6-digit code for secret at time t.
func TOTPCode(secret []byte, t time.Time) string {
	return hotp(secret, TOTPStep(t), TOTPDigits, sha1.New)
}

// VerifyTOTP checks code against the steps around now and returns the step it matched.
// Steps at or before lastUsed are refused, so a code cannot be replayed (pass 0 when no
// code has been used yet).
func VerifyTOTP(secret []byte, code string, now time.Time, lastUsed int64) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != TOTPDigits || len(secret) == 0 {
		return 0, false
	}
	current := TOTPStep(now)
	matched, ok := int64(0), false
	// Every candidate is compared in constant time and the loop never stops early, so
	// the time taken says nothing about which step matched.
	for step := current - TOTPSkew; step <= current+TOTPSkew; step++ {
		want := hotp(secret, step, TOTPDigits, sha1.New)
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > lastUsed && !ok {
			matched, ok = step, true
		}
	}
	return matched, ok
}

// hotp is RFC 4226's HOTP with the hash and digit count RFC 6238 allows to vary.
func hotp(secret []byte, counter int64, digits int, h func() hash.Hash) string {
	mac := hmac.New(h, secret)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	out := make([]byte, digits)
	v := bin % mod
	for i := digits - 1; i >= 0; i-- {
		out[i] = byte('0' + v%10)
		v /= 10
	}
	return string(out)
}

var totpBase32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// TOTPSecretText is the secret as authenticator apps take it typed in: base32 without
// padding.
func TOTPSecretText(secret []byte) string { return totpBase32.EncodeToString(secret) }

// TOTPURI is the otpauth:// URI (the Google Authenticator key-URI format) that QR codes
// carry, labelled issuer:account.
func TOTPURI(secret []byte, issuer, account string) string {
	q := url.Values{}
	q.Set("secret", TOTPSecretText(secret))
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", "6")
	q.Set("period", "30")
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + account, RawQuery: q.Encode()}
	return u.String()
}
