package test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tenantproxy/tenantproxy/configs"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// writeConfig writes a whole config file (a listen line is added) and
// returns its path.
func writeConfig(t testing.TB, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	yaml = "listen: {postgres: \"127.0.0.1:0\", mysql: \"127.0.0.1:0\", admin: \"\"}\n" + yaml
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadConfig loads a config written by writeConfig.
func loadConfig(t testing.TB, yaml string) *configs.Config {
	t.Helper()
	cfg, err := configs.Load(writeConfig(t, yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// verifyServer is a proxy core (no listeners) over yaml's tenants.
func verifyServer(t testing.TB, yaml string) *proxy.Server {
	t.Helper()
	cfg := loadConfig(t, yaml)
	p, err := proxy.New(cfg.Proxy, policy.NewEngine(1000), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
	})
	return p
}

// runVerify verifies every tenant of p.
func runVerify(t testing.TB, p *proxy.Server) *proxy.Report {
	t.Helper()
	rep, err := p.Verify(context.Background(), proxy.VerifyOptions{Budget: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// tenantReport returns id's part of rep.
func tenantReport(t testing.TB, rep *proxy.Report, id string) proxy.TenantReport {
	t.Helper()
	for _, tr := range rep.Tenants {
		if tr.Tenant == id {
			return tr
		}
	}
	t.Fatalf("no report for tenant %s", id)
	return proxy.TenantReport{}
}

// failedChecks lists a tenant's failed checks, one line each.
func failedChecks(tr proxy.TenantReport) []string {
	var out []string
	for _, c := range tr.Checks {
		if !c.Passed {
			out = append(out, fmt.Sprintf("%s [%s] %s (other %s, role %s): %s | %s", tr.Tenant, c.Kind, c.Name, c.Other, c.Role, c.Reason, c.Statement))
		}
	}
	return out
}

// wantFailed returns the failed checks of kind whose name or reason
// contains every one of words; it fails the test when there is none.
func wantFailed(t testing.TB, tr proxy.TenantReport, kind string, words ...string) []proxy.Check {
	t.Helper()
	var out []proxy.Check
	for _, c := range tr.Checks {
		if c.Passed || c.Kind != kind {
			continue
		}
		ok := true
		for _, w := range words {
			if !strings.Contains(c.Name+" "+c.Reason+" "+c.Statement, w) {
				ok = false
			}
		}
		if ok {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no failed %s check mentioning %q; failed: %v", tr.Tenant, kind, words, failedChecks(tr))
	}
	return out
}

// pgDSN is a DSN of the local Postgres for database db, through host.
func pgDSN(host, db string) string {
	return fmt.Sprintf("postgres://postgres@%s:5432/%s?sslmode=disable", host, db)
}

// myDSN is a DSN of the local MariaDB for database db, through host.
func myDSN(host, db string) string {
	return fmt.Sprintf("root@tcp(%s:3306)/%s", host, db)
}

// pgxConnect connects to database db as the superuser.
func pgxConnect(db string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/"+db+"?", 1))
}
