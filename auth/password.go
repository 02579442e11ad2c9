package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password length limits. The upper bound only keeps requests sane: argon2id hashes a
// long password as cheaply as a short one.
const (
	MinPasswordLength = 10
	MaxPasswordLength = 256
)

// Argon2Params are the argon2id cost parameters. They are stored in every hash (PHC
// string format), so raising them later leaves existing hashes verifiable.
type Argon2Params struct {
	// Time is the number of passes over the memory.
	Time uint32
	// MemoryKiB is the memory each hash fills, in KiB.
	MemoryKiB uint32
	// Threads is the degree of parallelism.
	Threads uint8
	// SaltLen and KeyLen are in bytes.
	SaltLen uint32
	KeyLen  uint32
}

// DefaultArgon2 is the cost caregraph hashes new passwords with: OWASP's argon2id
// setting of 46 MiB, one pass, one lane (equivalent in strength to its 19 MiB, two-pass
// setting). One lane because the server shares few cores among many requests: more
// lanes would make a login faster only by taking cores from other requests, and the
// memory, which is what makes guessing costly on GPUs, stays the same. The measured
// cost is in docs/performance.md (BenchmarkPasswordVerify).
var DefaultArgon2 = Argon2Params{Time: 1, MemoryKiB: 46 * 1024, Threads: 1, SaltLen: 16, KeyLen: 32}

// ErrPasswordPolicy is wrapped by the errors of ValidatePassword.
var ErrPasswordPolicy = errors.New("password does not meet the policy")

// ValidatePassword checks a new password against the length policy.
func ValidatePassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLength {
		return fmt.Errorf("%w: it must have at least %d characters", ErrPasswordPolicy, MinPasswordLength)
	}
	if n > MaxPasswordLength {
		return fmt.Errorf("%w: it must have at most %d characters", ErrPasswordPolicy, MaxPasswordLength)
	}
	return nil
}

// HashPassword hashes pw with argon2id under p and returns the PHC string
// $argon2id$v=19$m=…,t=…,p=…$salt$hash (unpadded standard base64).
func HashPassword(pw string, p Argon2Params) string {
	salt := make([]byte, p.SaltLen)
	rand.Read(salt) // never fails: crypto/rand ends the program if the system source does
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// maxVerifyMemoryKiB bounds the memory a stored hash may ask for, so that a tampered row
// cannot make one login allocate gigabytes.
const maxVerifyMemoryKiB = 1 << 20

// VerifyPassword reports whether pw matches the PHC string encoded. The comparison takes
// the same time wherever the keys differ.
func VerifyPassword(encoded, pw string) (bool, error) {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than p, so that a
// successful login can upgrade it.
func NeedsRehash(encoded string, p Argon2Params) bool {
	got, salt, key, err := decodeHash(encoded)
	if err != nil {
		return true
	}
	return got.Time != p.Time || got.MemoryKiB != p.MemoryKiB || got.Threads != p.Threads ||
		uint32(len(salt)) != p.SaltLen || uint32(len(key)) != p.KeyLen
}

func decodeHash(encoded string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("password hash is not an argon2id PHC string")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, fmt.Errorf("password hash: unsupported argon2 version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("password hash: bad parameters %q", parts[3])
	}
	if p.Time == 0 || p.Threads == 0 || p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxVerifyMemoryKiB {
		return p, nil, nil, fmt.Errorf("password hash: parameters out of range %q", parts[3])
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, errors.New("password hash: bad salt")
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 {
		return p, nil, nil, errors.New("password hash: bad key")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// dummyHashes holds, per parameter set, a hash of a random password. Logins for an
// unknown email verify against it, so they cost the same time as real ones and timing
// does not reveal which emails have accounts.
var dummyHashes sync.Map // Argon2Params → string

// burnPasswordWork does the argon2id work of one verification under p and throws the
// result away.
func burnPasswordWork(pw string, p Argon2Params) {
	h, ok := dummyHashes.Load(p)
	if !ok {
		h, _ = dummyHashes.LoadOrStore(p, HashPassword(GeneratePassword(), p))
	}
	_, _ = VerifyPassword(h.(string), pw)
}

// GeneratePassword returns a random password of 26 characters from the base32 alphabet
// (A–Z, 2–7; 130 bits), easy to read out and type from a print-out.
func GeneratePassword() string { return rand.Text() }
