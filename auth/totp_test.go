package auth

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTOTPRFC6238Vectors checks the test vectors of RFC 6238, Appendix B: 8-digit codes
// for SHA-1, SHA-256 and SHA-512 at six times, with the seeds the RFC gives.
func TestTOTPRFC6238Vectors(t *testing.T) {
	seeds := map[string][]byte{
		"SHA1":   []byte("12345678901234567890"),
		"SHA256": []byte("12345678901234567890123456789012"),
		"SHA512": []byte("1234567890123456789012345678901234567890123456789012345678901234"),
	}
	hashes := map[string]func() hash.Hash{"SHA1": sha1.New, "SHA256": sha256.New, "SHA512": sha512.New}
	vectors := []struct {
		unix int64
		mode string
		want string
	}{
		{59, "SHA1", "94287082"}, {59, "SHA256", "46119246"}, {59, "SHA512", "90693936"},
		{1111111109, "SHA1", "07081804"}, {1111111109, "SHA256", "68084774"}, {1111111109, "SHA512", "25091201"},
		{1111111111, "SHA1", "14050471"}, {1111111111, "SHA256", "67062674"}, {1111111111, "SHA512", "99943326"},
		{1234567890, "SHA1", "89005924"}, {1234567890, "SHA256", "91819424"}, {1234567890, "SHA512", "93441116"},
		{2000000000, "SHA1", "69279037"}, {2000000000, "SHA256", "90698825"}, {2000000000, "SHA512", "38618901"},
		{20000000000, "SHA1", "65353130"}, {20000000000, "SHA256", "77737706"}, {20000000000, "SHA512", "47863826"},
	}
	for _, v := range vectors {
		step := TOTPStep(time.Unix(v.unix, 0))
		if got := hotp(seeds[v.mode], step, 8, hashes[v.mode]); got != v.want {
			t.Errorf("T=%d %s: %s, want %s", v.unix, v.mode, got, v.want)
		}
		// The 6-digit code apps show is the last six digits of the 8-digit one.
		if v.mode == "SHA1" {
			if got := TOTPCode(seeds["SHA1"], time.Unix(v.unix, 0)); got != v.want[2:] {
				t.Errorf("T=%d 6-digit: %s, want %s", v.unix, got, v.want[2:])
			}
		}
	}
}

func TestVerifyTOTPWindowAndReplay(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0) // step 37037037
	step := TOTPStep(now)
	for _, tt := range []struct {
		name     string
		codeAt   time.Time
		lastUsed int64
		wantOK   bool
	}{
		{"current step", now, 0, true},
		{"one step early", now.Add(-30 * time.Second), 0, true},
		{"one step late", now.Add(30 * time.Second), 0, true},
		{"two steps early", now.Add(-60 * time.Second), 0, false},
		{"two steps late", now.Add(60 * time.Second), 0, false},
		{"replayed", now, step, false},
		{"earlier than the last used", now.Add(-30 * time.Second), step - 1, false},
		{"later than the last used", now, step - 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code := TOTPCode(secret, tt.codeAt)
			got, ok := VerifyTOTP(secret, code, now, tt.lastUsed)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if ok && got != TOTPStep(tt.codeAt) {
				t.Errorf("matched step %d, want %d", got, TOTPStep(tt.codeAt))
			}
		})
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := VerifyTOTP(secret, bad, now, 0); ok {
			t.Errorf("code %q accepted", bad)
		}
	}
	if _, ok := VerifyTOTP(nil, TOTPCode(secret, now), now, 0); ok {
		t.Error("a code accepted without a secret")
	}
}

func TestTOTPURI(t *testing.T) {
	secret := []byte("12345678901234567890")
	u, err := url.Parse(TOTPURI(secret, "caregraph", "ann@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/caregraph:ann@example.org" {
		t.Errorf("uri %s", u)
	}
	if q.Get("secret") != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" || q.Get("issuer") != "caregraph" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Errorf("query %v", q)
	}
	if strings.Contains(TOTPSecretText(NewTOTPSecret()), "=") {
		t.Error("secret text is padded")
	}
}
