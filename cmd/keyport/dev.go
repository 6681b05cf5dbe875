package main

import (
	"context"
	"errors"
)

func cmdDev(ctx context.Context, e env, args []string) error {
	return errors.New("dev: not wired yet")
}
