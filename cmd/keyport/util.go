package main

import (
	"errors"
	"os"
	"strings"

	"github.com/keyport/keyport/internal/secret"
)

func secretOf(s string) secret.Secret { return secret.New(s) }

func readKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", errors.New("cannot read key file")
	}
	return strings.TrimSpace(string(b)), nil
}
