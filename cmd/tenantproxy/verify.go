package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/tenantproxy/tenantproxy/configs"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// verifyCmd runs isolation verification once against the configured
// backends and prints the report: tenantproxy verify [--config F]
// [--tenant ID] [--json]. The exit status is 1 when a check failed (or the
// configuration has an overlap), 2 on a usage error.
func verifyCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tenantproxy verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "path to the YAML config file (default $TENANTPROXY_CONFIG or tenantproxy.yaml)")
	tenant := fs.String("tenant", "", "verify only this tenant")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("verify: unexpected argument %q", fs.Arg(0))}
	}
	cfg, err := configs.Load(*cfgPath)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	p, err := proxy.New(cfg.Proxy, policy.NewEngine(cfg.Proxy.PolicyCacheEntries), nil, log)
	if err != nil {
		return err
	}
	defer p.Shutdown(context.Background())
	v, err := proxy.NewVerifier(p, cfg.File.Verify, nil)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	rep, err := v.Run(context.Background(), *tenant)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(stdout, rep)
	}
	if !rep.Passed {
		return &exitError{code: 1, err: fmt.Errorf("isolation verification failed: %d checks", rep.Failures)}
	}
	return nil
}

func defaultConfigPath() string {
	if p := os.Getenv("TENANTPROXY_CONFIG"); p != "" {
		return p
	}
	return "tenantproxy.yaml"
}

// printReport writes the report for a reader: one block per tenant, its
// failed checks with the reason, then a line per kind of check.
func printReport(w io.Writer, rep *proxy.Report) {
	for _, tr := range rep.Tenants {
		where := tr.Database
		if tr.Schema != "" {
			where += "." + tr.Schema
		}
		if tr.TenantValue != "" {
			where += fmt.Sprintf(" %s=%q", tr.TenantColumn, tr.TenantValue)
		}
		status := "PASS"
		if tr.ChecksFailed > 0 {
			status = "FAIL"
		}
		fmt.Fprintf(w, "%s  tenant %s (%s, %s isolation, %s) on %s\n", status, tr.Tenant, tr.Engine, tr.Isolation, where, tr.Server)
		fmt.Fprintf(w, "      checks run %d, passed %d, failed %d; records retrieved %d; cross_contamination: %t; %.0f ms\n",
			tr.ChecksRun, tr.ChecksPassed, tr.ChecksFailed, tr.RecordsRetrieved, tr.CrossContamination, tr.DurationMS)
		if tr.Isolation == "row" {
			fmt.Fprintf(w, "      tables with %s: %s\n", tr.TenantColumn, strings.Join(orDash(tr.TenantTables), ", "))
			fmt.Fprintf(w, "      tables without it (shared): %s\n", strings.Join(orDash(tr.SharedTables), ", "))
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		kinds, order := map[string][2]int{}, []string{}
		for _, c := range tr.Checks {
			k, seen := kinds[c.Kind]
			if !seen {
				order = append(order, c.Kind)
			}
			if c.Passed {
				k[0]++
			} else {
				k[1]++
			}
			kinds[c.Kind] = k
		}
		for _, k := range order {
			fmt.Fprintf(tw, "      %s\t%d passed\t%d failed\n", k, kinds[k][0], kinds[k][1])
		}
		_ = tw.Flush()
		noted := map[string]bool{}
		for _, c := range tr.Checks {
			if note := c.Name + ": " + c.Reason; c.Passed && c.Outcome == "names_visible" && !noted[note] {
				noted[note] = true
				fmt.Fprintf(w, "      note: %s\n", note)
			}
		}
		for _, c := range tr.Checks {
			if c.Passed {
				continue
			}
			line := fmt.Sprintf("      FAILED %s: %s: %s", c.Kind, c.Name, c.Reason)
			if c.Role != "" {
				line += " (role " + c.Role + ")"
			}
			if c.Statement != "" {
				line += "\n        statement: " + c.Statement
			}
			fmt.Fprintln(w, line)
		}
	}
	if rep.Passed {
		fmt.Fprintf(w, "isolation verified: %d tenants, every check passed\n", len(rep.Tenants))
	} else {
		fmt.Fprintf(w, "isolation NOT verified: %d checks failed\n", rep.Failures)
	}
}

func orDash(l []string) []string {
	if len(l) == 0 {
		return []string{"-"}
	}
	return l
}

// guardIsolation checks the tenants for overlaps (a config error) and has
// p refuse, until verified, the tenants whose backend did not answer.
func guardIsolation(p *proxy.Server, tenants []*proxy.Tenant) error {
	chk, err := proxy.CheckIsolation(context.Background(), tenants)
	if err != nil {
		return err
	}
	for id, why := range chk.Pending {
		p.Logger().Warn("isolation_pending", "tenant", id, "reason", why)
	}
	p.GuardIsolation(chk)
	return nil
}
