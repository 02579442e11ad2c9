package auth

import (
	"strings"
	"testing"
)

// fastArgon2 keeps tests quick; the parameters in use are measured by the benchmarks.
var fastArgon2 = Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashAndVerifyPassword(t *testing.T) {
	h := HashPassword("correct horse battery", fastArgon2)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string with the parameters", h)
	}
	if h2 := HashPassword("correct horse battery", fastArgon2); h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, tt := range []struct {
		pw   string
		want bool
	}{
		{"correct horse battery", true},
		{"correct horse batterY", false},
		{"correct horse battery ", false},
		{"", false},
	} {
		ok, err := VerifyPassword(h, tt.pw)
		if err != nil || ok != tt.want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
}

func TestVerifyPasswordRejectsMalformedHashes(t *testing.T) {
	good := HashPassword("correct horse battery", fastArgon2)
	parts := strings.Split(good, "$")
	for name, h := range map[string]string{
		"empty":           "",
		"bcrypt":          "$2a$10$abcdefghijklmnopqrstuu",
		"argon2i":         strings.Replace(good, "argon2id", "argon2i", 1),
		"version":         strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":     strings.Join([]string{"", parts[1], parts[2], "m=4194304,t=1,p=1", parts[4], parts[5]}, "$"),
		"zero time":       strings.Join([]string{"", parts[1], parts[2], "m=64,t=0,p=1", parts[4], parts[5]}, "$"),
		"bad salt base64": strings.Join([]string{"", parts[1], parts[2], parts[3], "!!!", parts[5]}, "$"),
		"short key":       strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$"),
	} {
		if ok, err := VerifyPassword(h, "correct horse battery"); ok || err == nil {
			t.Errorf("%s: VerifyPassword = %v, %v; want an error", name, ok, err)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	h := HashPassword("correct horse battery", fastArgon2)
	if NeedsRehash(h, fastArgon2) {
		t.Error("a hash made with the current parameters needs a rehash")
	}
	stronger := fastArgon2
	stronger.Time = 2
	if !NeedsRehash(h, stronger) {
		t.Error("a hash made with weaker parameters does not need a rehash")
	}
}

func TestValidatePassword(t *testing.T) {
	for pw, ok := range map[string]bool{
		"":                       false,
		"123456789":              false,
		"1234567890":             true,
		"ŵŵŵŵŵŵŵŵŵŵ":             true, // ten characters, twenty bytes
		"ŵŵŵŵŵ":                  false,
		strings.Repeat("x", 256): true,
		strings.Repeat("x", 257): false,
	} {
		if err := ValidatePassword(pw); (err == nil) != ok {
			t.Errorf("ValidatePassword(%d runes) = %v, want ok=%v", len([]rune(pw)), err, ok)
		}
	}
}

func TestGeneratePassword(t *testing.T) {
	a, b := GeneratePassword(), GeneratePassword()
	if a == b {
		t.Error("two generated passwords are equal")
	}
	if err := ValidatePassword(a); err != nil {
		t.Errorf("a generated password fails the policy: %v", err)
	}
}

// BenchmarkPasswordVerify measures the argon2id cost of one login with the default
// parameters: the time a login spends checking the password.
func BenchmarkPasswordVerify(b *testing.B) {
	h := HashPassword("correct horse battery", DefaultArgon2)
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := VerifyPassword(h, "correct horse battery"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkUnknownEmailWork measures the work done for an unknown email, which must
// match BenchmarkPasswordVerify so that timing does not reveal who has an account.
func BenchmarkUnknownEmailWork(b *testing.B) {
	burnPasswordWork("correct horse battery", DefaultArgon2)
	for b.Loop() {
		burnPasswordWork("correct horse battery", DefaultArgon2)
	}
}
