package auth

import (
	"strings"
	"testing"
)

func TestNewTokenAndHash(t *testing.T) {
	text, h := NewToken()
	if !strings.HasPrefix(text, TokenPrefix) || len(text) != tokenTextLen || !wellFormedToken(text) {
		t.Fatalf("token %q is not well formed", text)
	}
	if HashToken(text) != h {
		t.Error("HashToken disagrees with NewToken")
	}
	other, h2 := NewToken()
	if other == text || h2 == h {
		t.Error("two tokens are equal")
	}
	for _, bad := range []string{"", "cgt_", text[:len(text)-1], "xyz_" + text[4:], text[:10] + "!" + text[11:], text + "A"} {
		if wellFormedToken(bad) {
			t.Errorf("%q passes as well formed", bad)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer abc":     "abc",
		"bearer  abc ":   "abc",
		"BEARER abc":     "abc",
		"Basic dXNlcjpw": "",
		"Bearer":         "",
		"Bearer   ":      "",
		"":               "",
		"abc":            "",
	} {
		got, ok := BearerToken(header)
		if got != want || ok != (want != "") {
			t.Errorf("BearerToken(%q) = %q, %v; want %q", header, got, ok, want)
		}
	}
}
