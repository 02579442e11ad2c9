package auth_test

import (
	"encoding/base32"
	"testing"
)

func decodeSecret(t *testing.T, text string) []byte {
	t.Helper()
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(text)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
