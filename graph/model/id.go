package model

import (
	"encoding/base64"
	"errors"
	"strings"
)

// EncodeID makes an opaque global ID from a type name and the object's natural key.
func EncodeID(typeName, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(typeName + ":" + key))
}

// DecodeID splits a global ID into its type name and key.
func DecodeID(id string) (typeName, key string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return "", "", errors.New("malformed id")
	}
	typeName, key, ok := strings.Cut(string(b), ":")
	if !ok || typeName == "" || key == "" {
		return "", "", errors.New("malformed id")
	}
	return typeName, key, nil
}
