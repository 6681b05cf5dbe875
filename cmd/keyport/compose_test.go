package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// There is no Docker engine on the build machines, so the deployment file is
// checked by loading it with the Compose specification's own loader.
func loadCompose(t *testing.T, interpolate bool) *types.Project {
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
		Environment: types.Mapping{"POSTGRES_PASSWORD": "test-password"},
	}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName("keyport", true)
		o.SkipInterpolation = !interpolate
		o.SkipResolveEnvironment = true // .env is the operator's, not in the repo
		o.ResolvePaths = false
	})
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

func TestComposeShape(t *testing.T) {
	p := loadCompose(t, true)
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
	if len(kp.Ports) != 1 || kp.Ports[0].Target != 8080 || kp.Ports[0].Published != "8080" {
		t.Errorf("keyport ports = %+v, want 8080 published", kp.Ports)
	}
	if addr := kp.Environment["KEYPORT_ADDR"]; addr == nil || !strings.HasSuffix(*addr, ":8080") {
		t.Errorf("KEYPORT_ADDR = %v, want to listen on the published port", addr)
	}
}

var secretName = regexp.MustCompile(`(?i)(PASSWORD|SECRET|TOKEN|_KEY$|DATABASE_URL)`)

// TestComposeHasNoSecretLiterals loads the file without interpolation: every
// secret-bearing variable must come from the environment (.env), never be
// written into the file.
func TestComposeHasNoSecretLiterals(t *testing.T) {
	p := loadCompose(t, false)
	for name, svc := range p.Services {
		for k, v := range svc.Environment {
			if !secretName.MatchString(k) || v == nil {
				continue
			}
			if !strings.Contains(*v, "${") {
				t.Errorf("%s: %s is a literal; take it from .env", name, k)
			}
			if strings.Contains(k, "DATABASE_URL") && !strings.Contains(*v, "${POSTGRES_PASSWORD") {
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
