package test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tenantproxy/tenantproxy/admin"
	"github.com/tenantproxy/tenantproxy/configs"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// chromiumPath finds headless Chromium, or skips (fails under CI=true).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install chromium)")
	}
	t.Skip("chromium is not installed")
	return ""
}

// startConsoleServer serves the admin API and console in-process, with
// reload and provisioning wired as cmd/tenantproxy wires them.
func startConsoleServer(t *testing.T, yaml string) (string, *proxy.Server) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	yaml = "listen: {postgres: \"127.0.0.1:0\", mysql: \"127.0.0.1:0\", admin: \"127.0.0.1:0\"}\n" +
		"auth: {jwt_secret: \"" + testSecret + "\"}\n" + yaml
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	p, err := proxy.New(cfg.Proxy, policy.NewEngine(10000), proxy.NewMetrics(reg), log)
	if err != nil {
		t.Fatal(err)
	}
	reload := func() (any, error) {
		next, err := configs.Load(path)
		if err != nil {
			return nil, err
		}
		return p.Reload(next.Proxy), nil
	}
	prov := cfg.File.Provisioning
	adm := admin.New(p, reg, log, admin.WithAPI(cfg.Admin), admin.WithReload(reload),
		admin.WithProvisioning(admin.Provisioning{Dir: prov.TenantsDir, PostgresDSN: prov.PostgresDSN, MySQLDSN: prov.MySQLDSN,
			Check: func(overlay map[string][]byte) error { _, err := configs.LoadWith(path, overlay); return err }}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = adm.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = adm.Shutdown(ctx)
		p.Shutdown(ctx)
	})
	return "http://" + l.Addr().String(), p
}

// artefactDir is where screenshots go: $TP_ARTIFACTS_DIR when set, else a
// folder of the test's own.
func artefactDir(t *testing.T) string {
	if d := os.Getenv("TP_ARTIFACTS_DIR"); d != "" {
		d = filepath.Join(d, t.Name())
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func browser(t *testing.T, exe string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 1000))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	return ctx
}

// page drives one browser tab; any failure ends the test.
type page struct {
	t   *testing.T
	ctx context.Context
	url string
	dir string
}

func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

func (p *page) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(sel))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func evalIn[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitText waits until the element's text contains want.
func (p *page) waitText(sel, want string) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := evalIn[string](p, "(document.querySelector("+jsString(sel)+")||{}).textContent||''")
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			p.shot("timeout")
			p.t.Fatalf("waiting for %q in %s; it holds %q", want, sel, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func jsString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

func (p *page) shot(name string) {
	p.t.Helper()
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, name+".png"), buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *page) login(user, pw, tenant string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.url+"/console/"),
		chromedp.WaitVisible("#login-user"),
		chromedp.SendKeys("#login-user", user),
		chromedp.SendKeys("#login-password", pw),
		chromedp.SendKeys("#login-tenant", tenant),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#tenant-view"))
}

// TestConsoleInBrowser drives the console in headless Chromium: an
// operator logs in, sees the tenants and top statements, asks a question,
// runs a dry-run, provisions a tenant and sees it in the fleet; a viewer
// cannot reach the fleet or provisioning.
func TestConsoleInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	requirePostgres(t)
	shop := pgShop(t, "console",
		`INSERT INTO customer VALUES (1,'Ann','ann@x.io','Brazil'),(2,'Bo','bo@x.io','Chile'),(3,'Cy','cy@x.io','Brazil')`)
	tpl := tempPGDatabase(t, "contpl")
	pgExec(t, tpl, "CREATE TABLE plans (id int PRIMARY KEY)")
	newID := fmt.Sprintf("cons_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	t.Cleanup(func() { pgExec(t, "postgres", "DROP DATABASE IF EXISTS "+newID+" WITH (FORCE)") })
	url, srv := startConsoleServer(t, fmt.Sprintf(`
provisioning:
  tenants_dir: %q
  postgres_dsn: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
tenants:
  - id: shop
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
    roles:
      viewer: {max_rows: 50, masked_columns: ["customer.email"]}
users:
  - name: op
    password: "op-pw"
    operator: true
    tenants: {shop: admin}
  - name: vic
    password: "vic-pw"
    tenants: {shop: viewer}
`, filepath.Join(t.TempDir(), "tenants.d"), shop))
	dir := artefactDir(t)
	t.Logf("screenshots in %s", dir)

	op := &page{t: t, ctx: browser(t, exe), url: url, dir: dir}
	op.login("op", "op-pw", "shop")
	op.waitText("#tenant-list tbody", "shop")
	op.waitText("#tenant-list tbody", "healthy")
	if got := op.text("#tenant-list tbody"); strings.Contains(got, "undefined") {
		t.Errorf("tenant list: %q", got)
	}
	op.shot("1-tenants")
	// a question in words: the SQL and the rows
	op.do(chromedp.SendKeys("#ask-question", "how many customers are there"), chromedp.Click("#ask-submit"))
	op.waitText("#ask-sql", "count")
	sqlText := op.text("#ask-sql")
	op.waitText("#ask-rows tbody", "3")
	rows := evalIn[int](op, `document.querySelectorAll("#ask-rows tbody tr").length`)
	op.shot("2-question")
	if rows != 1 || !strings.Contains(strings.ToLower(sqlText), `from "customer"`) {
		t.Errorf("question: sql %q, %d rows", sqlText, rows)
	}
	// the question's statement appears among the top statements
	op.waitText("#statements tbody", "customer")
	// the dry-run
	op.do(chromedp.SendKeys("#explain-sql", "SELECT name, email FROM customer WHERE country = 'Brazil'"), chromedp.Click("#explain-submit"))
	op.waitText("#explain-result", "allowed")
	verdict, reasons := op.text("#explain-verdict"), op.text("#explain-result ul")
	op.shot("3-dry-run")
	if !strings.HasPrefix(verdict, "allowed") || !strings.Contains(reasons, "unchanged") {
		t.Errorf("dry-run: %q / %q", verdict, reasons)
	}
	// provisioning
	op.do(chromedp.Navigate(url+"/console/#provision"), chromedp.WaitVisible("#prov-id"),
		chromedp.SendKeys("#prov-id", newID), chromedp.SendKeys("#prov-template", tpl),
		chromedp.SendKeys("#prov-user", "u_"+newID), chromedp.SendKeys("#prov-password", "pw"),
		chromedp.Click("#prov-submit"))
	op.waitText("#provision-result", "created tenant "+newID)
	op.shot("4-provisioned")
	op.do(chromedp.Navigate(url + "/console/#fleet"))
	op.waitText("#fleet tbody", newID)
	op.waitText("#fleet tbody", "shop")
	if got := op.text("#fleet tbody"); strings.Contains(got, "undefined") {
		t.Errorf("fleet: %q", got)
	}
	op.shot("5-fleet")
	if _, ok := srv.Tenant(newID); !ok {
		t.Errorf("the console's provisioning did not register %s", newID)
	}

	// A viewer: own tenant only, no fleet, no provisioning.
	vic := &page{t: t, ctx: browser(t, exe), url: url, dir: dir}
	vic.login("vic", "vic-pw", "shop")
	vic.waitText("#tenant-list tbody", "viewer")
	vic.do(chromedp.SendKeys("#explain-sql", "SELECT name, email FROM customer"), chromedp.Click("#explain-submit"))
	vic.waitText("#explain-result", "masked")
	if vr := vic.text("#explain-result ul"); !strings.Contains(vr, "LIMIT 50") {
		t.Errorf("viewer's dry-run reasons: %q", vr)
	}
	vic.do(chromedp.Navigate(url + "/console/#fleet"))
	vic.waitText("#fleet-error", "Forbidden")
	fleetRows := evalIn[int](vic, `document.querySelectorAll("#fleet tbody tr").length`)
	navHidden := evalIn[bool](vic, `document.getElementById("nav-fleet").hidden`)
	vic.shot("6-viewer-fleet")
	if fleetRows != 0 || !navHidden {
		t.Errorf("viewer sees %d fleet rows, fleet link hidden %v", fleetRows, navHidden)
	}
	vic.do(chromedp.Navigate(url + "/console/#provision"))
	vic.waitText("#provision-error", "Forbidden")
	if evalIn[bool](vic, `!document.getElementById("provision-form").hidden`) {
		t.Error("the viewer sees the provisioning form")
	}
	vic.shot("7-viewer-provision")
	for _, n := range []string{"1-tenants", "3-dry-run", "5-fleet", "6-viewer-fleet"} {
		if st, err := os.Stat(filepath.Join(dir, n+".png")); err != nil || st.Size() < 1000 {
			t.Errorf("screenshot %s: %v", n, err)
		}
	}
}
