package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// The deployment file is checked here by loading it with the Compose
// specification's own loader (make test needs no Docker engine); make
// compose-test runs it for real (deploy/composetest).
func loadCompose(t *testing.T, vars types.Mapping) *types.Project {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	details := types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: "docker-compose.yml", Content: b}},
		Environment: vars,
	}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName("keyport", true)
		o.SkipResolveEnvironment = true // .env is the operator's, not in the repo
		o.ResolvePaths = false
		o.Profiles = []string{"*"} // the demo's services too
	})
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

func TestComposeShape(t *testing.T) {
	p := loadCompose(t, types.Mapping{"POSTGRES_PASSWORD": "test-password"})
	pg, ok := p.Services["postgres"]
	if !ok {
		t.Fatal("no postgres service")
	}
	if pg.HealthCheck == nil || len(pg.HealthCheck.Test) == 0 || !strings.Contains(strings.Join(pg.HealthCheck.Test, " "), "pg_isready") {
		t.Errorf("postgres healthcheck = %+v, want pg_isready", pg.HealthCheck)
	}
	if len(pg.Volumes) == 0 || pg.Volumes[0].Type != types.VolumeTypeVolume || pg.Volumes[0].Source != "pgdata" {
		t.Errorf("postgres volumes = %+v, want the named volume pgdata", pg.Volumes)
	}
	if _, ok := p.Volumes["pgdata"]; !ok {
		t.Error("named volume pgdata not declared")
	}

	mig, ok := p.Services["migrate"]
	if !ok || strings.Join(mig.Command, " ") != "migrate up" {
		t.Fatalf("migrate service command = %v, want [migrate up]", mig.Command)
	}
	if d := mig.DependsOn["postgres"]; d.Condition != types.ServiceConditionHealthy {
		t.Errorf("migrate depends on postgres with %q, want service_healthy", d.Condition)
	}

	kp, ok := p.Services["keyport"]
	if !ok {
		t.Fatal("no keyport service")
	}
	if strings.Join(kp.Command, " ") != "serve" {
		t.Errorf("keyport command = %v, want [serve]", kp.Command)
	}
	if d := kp.DependsOn["postgres"]; d.Condition != types.ServiceConditionHealthy {
		t.Errorf("keyport depends on postgres with %q, want service_healthy", d.Condition)
	}
	if d := kp.DependsOn["migrate"]; d.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("keyport depends on migrate with %q, want service_completed_successfully", d.Condition)
	}
	if len(kp.EnvFiles) != 1 || !strings.HasSuffix(kp.EnvFiles[0].Path, ".env") {
		t.Errorf("keyport env_file = %+v, want .env", kp.EnvFiles)
	}
	if len(kp.Ports) != 1 || kp.Ports[0].Target != 8080 || kp.Ports[0].Published != "8080" || kp.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("keyport ports = %+v, want 8080 published on 127.0.0.1", kp.Ports)
	}
	// The healthcheck is keyport health (no shell in the image): compose ps
	// and up --wait see the portal healthy only when /readyz answers 200.
	if hc := kp.HealthCheck; hc == nil || strings.Join(hc.Test, " ") != "CMD /usr/local/bin/keyport health" {
		t.Errorf("keyport healthcheck = %+v, want [CMD /usr/local/bin/keyport health]", hc)
	}
	if kp.StopGracePeriod == nil || time.Duration(*kp.StopGracePeriod) <= 90*time.Second {
		t.Errorf("keyport stop_grace_period = %v, want more than the 90 s drain", kp.StopGracePeriod)
	}
	if addr := kp.Environment["KEYPORT_ADDR"]; addr == nil || !strings.HasSuffix(*addr, ":8080") {
		t.Errorf("KEYPORT_ADDR = %v, want to listen on the published port", addr)
	}
}

// The demo profile: the simulator, only with --profile demo, on loopback,
// announcing the name the portal reaches it by (deploy/demo.env).
func TestComposeDemoProfile(t *testing.T) {
	p := loadCompose(t, types.Mapping{"POSTGRES_PASSWORD": "test-password"})
	sim, ok := p.Services["sim"]
	if !ok {
		t.Fatal("no sim service")
	}
	if !slices.Equal(sim.Profiles, []string{"demo"}) {
		t.Errorf("sim profiles = %v, want [demo]", sim.Profiles)
	}
	if got := strings.Join(sim.Command, " "); got != "sim --addr 0.0.0.0:8081 --base-url http://sim:8081 --state /home/nonroot/sim.json" {
		t.Errorf("sim command = %q", got)
	}
	if len(sim.Ports) != 1 || sim.Ports[0].Target != 8081 || sim.Ports[0].Published != "8081" || sim.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("sim ports = %+v, want 8081 published on 127.0.0.1", sim.Ports)
	}
	if sim.HealthCheck == nil || !strings.Contains(strings.Join(sim.HealthCheck.Test, " "), "keyport health --url http://127.0.0.1:8081/") {
		t.Errorf("sim healthcheck = %+v, want keyport health on its own port", sim.HealthCheck)
	}
	demo, err := os.ReadFile("../../deploy/demo.env")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"KEYPORT_CXONE_URL_TEMPLATE=http://sim:8081/{region}\n", "KEYPORT_CXONE_JWKS_URL=http://sim:8081/auth/jwks\n", "KEYPORT_COOKIE_SECURE=false\n"} {
		if !strings.Contains(string(demo), want) {
			t.Errorf("deploy/demo.env lacks %q", want)
		}
	}
}

var secretName = regexp.MustCompile(`(?i)(PASSWORD|SECRET|TOKEN|_KEY$|DATABASE_URL)`)

var composeVar = regexp.MustCompile(`\$\{([A-Z0-9_]+)`)

// TestComposeHasNoSecretLiterals gives every variable the file names (but
// the port numbers) a marker value: every secret-bearing setting must come
// from the environment (.env), never be written into the file.
func TestComposeHasNoSecretLiterals(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	vars := types.Mapping{}
	for _, m := range composeVar.FindAllStringSubmatch(string(b), -1) {
		if !strings.HasSuffix(m[1], "_PORT") {
			vars[m[1]] = "<<" + m[1] + ">>"
		}
	}
	p := loadCompose(t, vars)
	for name, svc := range p.Services {
		for k, v := range svc.Environment {
			if !secretName.MatchString(k) || v == nil {
				continue
			}
			if !strings.Contains(*v, "<<") {
				t.Errorf("%s: %s is a literal; take it from .env", name, k)
			}
			if strings.Contains(k, "DATABASE_URL") && !strings.Contains(*v, "<<POSTGRES_PASSWORD>>") {
				t.Errorf("%s: %s embeds a literal password", name, k)
			}
		}
	}
	ex, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(ex), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && !strings.HasPrefix(k, "#") && secretName.MatchString(k) && v != "" {
			t.Errorf(".env.example sets %s; it must be left empty", k)
		}
	}
}
