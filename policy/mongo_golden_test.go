package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// mongoGoldenConfigs are the subjects of testdata/mongo/*.golden, by file
// name, with the tenant's collection allow-list.
func mongoGoldenConfigs() map[string]struct {
	s     Subject
	colls []string
} {
	role := func(name string) *Role {
		r, _ := BuiltinRole(name)
		return &r
	}
	db := &Scope{Tenant: "docs", Isolation: IsolationDatabase, Database: "docs_db"}
	row := &Scope{Tenant: "shop_a", Isolation: IsolationRow, Database: "shop", TenantColumn: "tenant", TenantValue: "a"}
	viewer := role(RoleViewer)
	viewer.MaxRows = 5
	viewer.MaskedColumns = []string{"customers.email", "customers.address.street"}
	colls := []string{"customers", "orders", "products"}
	type cfg = struct {
		s     Subject
		colls []string
	}
	return map[string]cfg{
		"viewer":     {Subject{User: "vera", Scope: db, Role: viewer, Version: 1}, colls},
		"analyst":    {Subject{User: "ann", Scope: db, Role: role(RoleAnalyst), Version: 1}, colls},
		"row_editor": {Subject{User: "ed", Scope: row, Role: role(RoleEditor), Version: 1}, nil},
		"row_viewer": {Subject{User: "vera", Scope: row, Role: viewer, Version: 1}, nil},
	}
}

func describeMongo(d *MongoDecision, err error) string {
	if err != nil {
		e := sqlerr.As(err)
		if e == nil {
			return "-- error ?????: " + err.Error()
		}
		return fmt.Sprintf("-- error %s: %s", e.SQLState(), e.Message)
	}
	var b strings.Builder
	b.WriteString("-- out")
	if d.Rewritten {
		b.WriteString(" rewritten")
	}
	if d.Capped {
		fmt.Fprintf(&b, " capped=%d", d.MaxRows)
	}
	if len(d.Masks) > 0 {
		fmt.Fprintf(&b, " masks=%s", strings.Join(d.Masks, ","))
	}
	fmt.Fprintf(&b, " collections=%s\n%s", strings.Join(d.Collections, ","), d.Text())
	return b.String()
}

// TestMongoGolden runs every request of testdata/mongo/<config>.golden
// through CheckMongo; -update rewrites the expected outcomes.
func TestMongoGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/mongo/*.golden")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	cfgs := mongoGoldenConfigs()
	total := 0
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".golden")
		cfg, ok := cfgs[name]
		if !ok {
			t.Errorf("%s: no config for golden file", file)
			continue
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, c := range parseGolden(t, string(raw)) {
			total++
			var got string
			req, err := ParseMongoRequest([]byte(c.in))
			if err != nil {
				got = describeMongo(nil, err)
			} else {
				got = describeMongo(CheckMongo(cfg.s, cfg.colls, req))
			}
			b.WriteString("-- in\n" + c.in + "\n" + got + "\n\n")
			if !*update && got != c.out {
				t.Errorf("%s #%d:\n%s\nwant:\n%s\ngot:\n%s", name, i, c.in, c.out, got)
			}
		}
		if *update {
			if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("%d golden cases", total)
}
