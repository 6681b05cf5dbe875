package cxonesim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyport/keyport/internal/secret"
)

// controlRoutes mirror the in-process API for the standalone process:
//
//	POST   /control/faults       Fault or [Fault] → Inject
//	DELETE /control/faults       ClearFaults
//	PUT    /control/variants     Variants → SetVariants
//	PUT    /control/lifetimes    {"bearer_sec":n,"refresh_sec":n} → SetLifetimes
//	GET    /control/calls        {endpoint: count}
//	GET    /control/requests     the request log
//	GET    /control/tenants      seed data (ids, users, keys; no secrets)
//	POST   /control/basic-token  {"region","tenant","user"} → {"token"}
//
// They are for a loopback development process; never expose the simulator.
func (s *Sim) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /control/faults", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var list []Fault
		if err := json.Unmarshal(body, &list); err != nil {
			var one Fault
			if err := json.Unmarshal(body, &one); err != nil {
				http.Error(w, "want a fault or a list of faults", http.StatusBadRequest)
				return
			}
			list = []Fault{one}
		}
		for _, f := range list {
			if err := f.validate(); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		for _, f := range list {
			s.Inject(f)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /control/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /control/variants", func(w http.ResponseWriter, r *http.Request) {
		var v Variants
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&v); err != nil {
			http.Error(w, "want a variants object", http.StatusBadRequest)
			return
		}
		s.SetVariants(v)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /control/lifetimes", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Bearer  int `json:"bearer_sec"`
			Refresh int `json:"refresh_sec"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			http.Error(w, "want {\"bearer_sec\":n,\"refresh_sec\":n}", http.StatusBadRequest)
			return
		}
		s.SetLifetimes(time.Duration(in.Bearer)*time.Second, time.Duration(in.Refresh)*time.Second)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /control/calls", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		out := map[string]int{}
		for k, v := range s.calls {
			out[k] = v
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /control/requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Requests())
	})
	mux.HandleFunc("GET /control/tenants", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Tenants())
	})
	mux.HandleFunc("POST /control/basic-token", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Region, Tenant, User string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			http.Error(w, `want {"region","tenant","user"}`, http.StatusBadRequest)
			return
		}
		tok, err := s.BasicToken(in.Region, in.Tenant, in.User)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]string{"token": tok.Reveal()})
	})
}

// RequestBasicToken asks a running simulator (simURL, e.g.
// "http://127.0.0.1:8081") for a basic token, as `keyport sim basic-token`
// does: a token is only valid in the process that signed it.
func RequestBasicToken(ctx context.Context, simURL, region, tenantID, userID string) (secret.Secret, error) {
	body, _ := json.Marshal(map[string]string{"region": region, "tenant": tenantID, "user": userID})
	u, err := url.JoinPath(simURL, "/control/basic-token")
	if err != nil {
		return secret.Secret{}, fmt.Errorf("simulator URL: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(string(body)))
	if err != nil {
		return secret.Secret{}, fmt.Errorf("simulator URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return secret.Secret{}, fmt.Errorf("reach simulator: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return secret.Secret{}, fmt.Errorf("simulator: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var out struct{ Token string }
	if err := json.Unmarshal(b, &out); err != nil || out.Token == "" {
		return secret.Secret{}, errors.New("simulator: no token in answer")
	}
	return secret.New(out.Token), nil
}

// Serve runs sim on addr until ctx ends, then shuts down gracefully. The
// simulator's base URL is set from the bound address unless already set.
func Serve(ctx context.Context, addr string, sim *Sim, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cxonesim listen: %w", err)
	}
	if sim.baseURL("") == "" {
		host, port, _ := net.SplitHostPort(ln.Addr().String())
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			host = "127.0.0.1" // ":8081" binds every address; links still need one
		}
		sim.SetBaseURL("http://" + net.JoinHostPort(host, port))
	}
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 5 * time.Minute /* slow faults */, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("cxone simulator listening", "url", sim.baseURL(""), "generate_key", sim.baseURL("")+"/na1/generate-key",
		"url_template", sim.URLTemplate(), "jwks_url", sim.JWKSURL())
	select {
	case err := <-errc:
		return fmt.Errorf("cxonesim serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
