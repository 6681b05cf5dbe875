package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

func newKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.StdEncoding.EncodeToString(b)
}

func cmdGenkey(_ context.Context, e env, args []string) error {
	fs := newFlagSet(e, "genkey", "genkey\n\nPrints 32 random bytes as base64, for KEYPORT_SESSION_KEY, KEYPORT_ENCRYPTION_KEY or KEYPORT_AUDIT_KEY (use a different key for each).")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, newKey())
	return nil
}
