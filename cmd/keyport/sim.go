package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/keyport/keyport/cxone/cxonesim"
	"github.com/keyport/keyport/internal/logging"
)

func cmdSim(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && args[0] == "basic-token" {
		return cmdSimBasicToken(ctx, e, args[1:])
	}
	fs := newFlagSet(e, "sim", "sim [--addr host:port] [--base-url URL] [--seed N] [--state FILE]\n       keyport sim basic-token --region na1 --tenant ID --user ID [--sim URL]\n\nRuns the CXone simulator standalone: every area under /{region}/…, its Generate Key page at\n/{region}/generate-key, and /control/… for fault injection. Not CXone: for development and tests.\nWith --state, tenants, users, keys and issued tokens survive a restart (keyport dev keeps them in .keyport/sim.json).")
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	base := fs.String("base-url", "", "the `URL` the portal reaches the simulator at, used in token issuers and the JWKS URL (docker compose: http://sim:8081); empty = http://--addr")
	seed := fs.Int64("seed", 1, "seed for the deterministic tenants, users and keys")
	state := fs.String("state", "", "keep the state in this `file` (created if missing, refused if unreadable); empty = in memory only")
	help, err := parse(fs, e, args)
	if help || err != nil {
		return err
	}
	opts := cxonesim.Options{Seed: *seed, Logger: logging.New(e.stderr, "text", nil)}
	var sim *cxonesim.Sim
	if *state == "" {
		sim = cxonesim.New(opts)
	} else if sim, err = cxonesim.Open(*state, opts); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return usageError(fmt.Errorf("--addr: want host:port, got %q", *addr))
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	if *base != "" {
		if u, err := url.Parse(*base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError(fmt.Errorf("--base-url: want an http(s) URL, got %q", *base))
		}
		sim.SetBaseURL(*base)
		printSimInfo(e.stdout, sim)
	} else if port != "0" {
		sim.SetBaseURL("http://" + net.JoinHostPort(host, port))
		printSimInfo(e.stdout, sim)
	}
	return cxonesim.Serve(ctx, *addr, sim, logging.New(e.stderr, "text", nil))
}

// printSimInfo tells a developer where to point Keyport and whom to sign in as.
func printSimInfo(w io.Writer, sim *cxonesim.Sim) {
	fmt.Fprintf(w, "CXone simulator\n  Generate Key page:          %s\n  KEYPORT_CXONE_URL_TEMPLATE=%s\n  KEYPORT_CXONE_JWKS_URL=%s\n  seeded na1 tenants and users (every area has its own; all are listed at %s):\n",
		strings.Replace(sim.URLTemplate(), "{region}", "na1", 1)+"/generate-key", sim.URLTemplate(), sim.JWKSURL(),
		strings.TrimSuffix(sim.URLTemplate(), "/{region}")+"/control/tenants")
	for _, t := range sim.Tenants() {
		if t.Region != "na1" {
			continue
		}
		fmt.Fprintf(w, "    %s  tenant %s (%s)\n", t.Region, t.ID, t.Name)
		for _, u := range t.Users {
			priv := "My Access Key"
			if u.AccessKey {
				priv += " + Access Key"
			}
			fmt.Fprintf(w, "        user %s  %s  [%s]\n", u.ID, u.Name, priv)
		}
	}
}

func cmdSimBasicToken(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "sim basic-token", "sim basic-token --region na1 --tenant ID --user ID [--sim URL]\n\nAsks a running simulator for a basic token (what CXone's Generate Key page gives) and prints it.")
	region := fs.String("region", "na1", "CXone area")
	tenant := fs.String("tenant", "", "tenant `ID` (see the output of keyport sim)")
	user := fs.String("user", "", "user `ID` (see the output of keyport sim)")
	simURL := fs.String("sim", "http://127.0.0.1:8081", "base URL of the running simulator")
	if help, err := parse(fs, e, args); help || err != nil {
		return err
	}
	if *tenant == "" || *user == "" {
		return usageError(errors.New("sim basic-token: --tenant and --user are required"))
	}
	tok, err := cxonesim.RequestBasicToken(ctx, *simURL, *region, *tenant, *user)
	if err != nil {
		return err
	}
	// Printing the token is this command's purpose: it is a simulator token.
	fmt.Fprintln(e.stdout, tok.Reveal())
	return nil
}
