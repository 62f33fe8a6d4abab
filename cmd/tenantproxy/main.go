// Command tenantproxy is a multi-tenant, wire-level SQL proxy for Postgres
// and MySQL clients.
//
//	tenantproxy --config FILE        serve
//	tenantproxy --version            print the version
//	tenantproxy hash-password        read a password on stdin, print its SCRAM-SHA-256 verifier
//	tenantproxy verify [--config F] [--tenant ID] [--json]
//	                                 check tenant isolation and print the report (exit 1 on a failure)
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/tenantproxy/tenantproxy/admin"
	"github.com/tenantproxy/tenantproxy/configs"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy"
	"github.com/tenantproxy/tenantproxy/proxy/scram"
	mysqlwire "github.com/tenantproxy/tenantproxy/wire/mysql"
	"github.com/tenantproxy/tenantproxy/wire/pg"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// exitError carries the process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tenantproxy:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "hash-password" {
		return hashPassword(stdin, stdout)
	}
	if len(args) > 0 && args[0] == "verify" {
		return verifyCmd(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("tenantproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "path to the YAML config file")
	showVersion := fs.Bool("version", false, "print the version and exit")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until exit (for benchmarking)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2, err: err}
	}
	if *showVersion {
		fmt.Fprintln(stdout, "tenantproxy", version)
		return nil
	}
	if *cfgPath == "" {
		return &exitError{code: 2, err: errors.New("--config FILE is required")}
	}
	cfg, err := configs.Load(*cfgPath)
	if err != nil {
		return err
	}
	log := newLogger(cfg.File.Log, stderr)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	return serve(cfg, *cfgPath, log)
}

// hashPassword reads one line from in and prints its verifier.
func hashPassword(in io.Reader, out io.Writer) error {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return errors.New("hash-password: give the password on standard input")
	}
	v, err := scram.NewVerifier(pw, scram.DefaultIterations)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, v.String())
	return nil
}

func newLogger(c configs.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(cfg *configs.Config, cfgPath string, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := proxy.NewMetrics(reg)
	engine := policy.NewEngine(cfg.Proxy.PolicyCacheEntries)
	p, err := proxy.New(cfg.Proxy, engine, metrics, log)
	if err != nil {
		return err
	}
	if err := p.CheckCatalogs(context.Background(), cfg.Proxy); err != nil {
		return err
	}
	audit, err := proxy.NewAuditLog(cfg.File.Audit, os.Stdout, reg, log)
	if err != nil {
		return fmt.Errorf("audit.path: %w", err)
	}
	defer func() { _ = audit.Close() }()
	p.SetAudit(audit)
	p.SetDigests(proxy.NewDigests(cfg.File.Statements))
	alerts, err := proxy.NewAlerter(cfg.File.Alerts, reg, log)
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	defer alerts.Close()
	p.SetAlerts(alerts)
	if err := guardIsolation(p, cfg.Proxy.Tenants); err != nil {
		return err
	}
	verifier, err := proxy.NewVerifier(p, cfg.File.Verify, reg)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	verifier.Start()
	defer verifier.Close()
	var fleet *proxy.Fleet
	if cfg.File.Fleet.Enabled {
		if fleet, err = startFleet(cfg, p, reg, log); err != nil {
			return err
		}
		defer fleet.Close()
	}
	var tlsCfg *tls.Config
	if cfg.File.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.File.TLS.CertFile, cfg.File.TLS.KeyFile)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	// Bind every listener before serving any, so a taken address fails the start.
	var listeners []net.Listener
	closeAll := func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}
	listen := func(key, addr string) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("listen.%s: cannot listen on %s: %w", key, addr, err)
		}
		listeners = append(listeners, l)
		return l, nil
	}
	errc := make(chan error, 4)
	// The admin server exists even without a listener: it issues and checks
	// the access tokens that wire clients may give as passwords.
	// reload re-reads the config file (SIGHUP, POST /api/v1/admin/reload);
	// a config that fails validation is rejected and the running one stays.
	var reloadMu sync.Mutex
	reload := func() (any, error) {
		reloadMu.Lock()
		defer reloadMu.Unlock()
		next, err := configs.Load(cfgPath)
		if err != nil {
			log.Error("config_reload_rejected", "error", err)
			return nil, err
		}
		if err := p.CheckCatalogs(context.Background(), next.Proxy); err != nil {
			log.Error("config_reload_rejected", "error", err)
			return nil, err
		}
		if err := guardIsolation(p, next.Proxy.Tenants); err != nil {
			log.Error("config_reload_rejected", "error", err)
			return nil, err
		}
		if next.File.Listen != cfg.File.Listen || next.File.TLS != cfg.File.TLS {
			log.Warn("config_reload_partial", "reason", "listen and tls changes need a restart")
		}
		if fleet != nil {
			fleet.SetConfigHash(configHash(next))
		}
		return p.Reload(next.Proxy), nil
	}
	adm := admin.New(p, reg, log, admin.WithAPI(cfg.Admin), admin.WithReload(reload), admin.WithVerifier(verifier),
		admin.WithMetrics(cfg.File.Listen.Metrics != "", cfg.File.Auth.MetricsToken))
	var tokens func(string) (string, string, error)
	if adm.TokensEnabled() {
		tokens = func(tok string) (string, string, error) {
			c, err := adm.ParseToken(tok)
			if err != nil {
				return "", "", err
			}
			return c.User, c.Tenant, nil
		}
	}
	prov := cfg.File.Provisioning // tenants added through the API, kept in tenants_dir
	adm.SetProvisioning(admin.Provisioning{Dir: prov.TenantsDir, PostgresDSN: prov.PostgresDSN, MySQLDSN: prov.MySQLDSN,
		Check: func(overlay map[string][]byte) error { _, err := configs.LoadWith(cfgPath, overlay); return err }})
	var pgSrv *pg.Server
	if addr := cfg.File.Listen.Postgres; addr != "" {
		l, err := listen("postgres", addr)
		if err != nil {
			return err
		}
		l = p.Gate(l, "postgres", pg.Refuse)
		pgSrv = pg.New(p, tlsCfg, log)
		if tokens != nil {
			pgSrv.AcceptTokens(tokens, cfg.File.Auth.TokenPasswordsOnLoopback)
		}
		go func() { errc <- pgSrv.Serve(l) }()
		log.Info("listening", "frontend", "postgres", "addr", l.Addr().String())
	}
	var myl *mysqlwire.Server
	if addr := cfg.File.Listen.MySQL; addr != "" {
		l, err := listen("mysql", addr)
		if err != nil {
			return err
		}
		l = p.Gate(l, "mysql", mysqlwire.Refuse)
		myl = mysqlwire.New(p, tlsCfg, log)
		if tokens != nil {
			myl.AcceptTokens(tokens)
		}
		go func() { errc <- myl.Serve(l) }()
		log.Info("listening", "frontend", "mysql", "addr", l.Addr().String())
	}
	adminServing := false
	if addr := cfg.File.Listen.Admin; addr != "" {
		l, err := listen("admin", addr)
		if err != nil {
			return err
		}
		adminServing = true
		go func() { errc <- adm.Serve(l) }()
		log.Info("listening", "frontend", "admin", "addr", l.Addr().String())
	}
	if addr := cfg.File.Listen.Metrics; addr != "" {
		l, err := listen("metrics", addr)
		if err != nil {
			return err
		}
		adminServing = true
		go func() { errc <- adm.ServeMetrics(l) }()
		log.Info("listening", "frontend", "metrics", "addr", l.Addr().String())
	}
	log.Info("started", "version", version, "tenants", len(cfg.Proxy.Tenants))

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	for {
		select {
		case err := <-errc:
			if err != nil {
				closeAll()
				return err
			}
		case sig := <-sigc:
			if sig == syscall.SIGHUP {
				if err := audit.Reopen(); err != nil {
					log.Error("audit_reopen_failed", "error", err)
				}
				_, _ = reload()
				continue
			}
			log.Info("draining", "signal", sig.String())
			closeAll()
			p.Shutdown(context.Background())
			if pgSrv != nil {
				pgSrv.Wait()
			}
			if myl != nil {
				myl.Wait()
			}
			if adminServing {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = adm.Shutdown(ctx)
				cancel()
			}
			log.Info("stopped")
			return nil
		}
	}
}
