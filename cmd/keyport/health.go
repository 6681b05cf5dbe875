package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

const healthUsage = `health [--url URL] [--timeout D]

Exits 0 when the portal's /readyz answers 200 (the database answers and its schema is current), 1
otherwise, with the reason on stderr. For container healthchecks: the distroless image has no shell
or curl. Without --url it asks the portal on this machine at KEYPORT_ADDR (0.0.0.0 becomes 127.0.0.1).`

func cmdHealth(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "health", healthUsage)
	u := fs.String("url", "", "readiness `URL` to ask; empty = http://KEYPORT_ADDR/readyz")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this `duration`")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if *u == "" {
		var err error
		if *u, err = localReadyzURL(e.getenv("KEYPORT_ADDR")); err != nil {
			return usageError(err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *u, nil)
	if err != nil {
		return usageError(fmt.Errorf("health: --url: %w", err))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %d: %s", *u, res.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintln(e.stdout, strings.TrimSpace(string(body)))
	return nil
}

// localReadyzURL turns a listen address into the URL that reaches it from
// the same machine: a wildcard host is asked on loopback.
func localReadyzURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(cmp.Or(addr, "127.0.0.1:8080"))
	if err != nil || port == "" {
		return "", errors.New("health: KEYPORT_ADDR: want host:port")
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}
