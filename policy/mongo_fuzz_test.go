package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// FuzzCheckMongo feeds requests to the MongoDB policy of a row tenant
// whose viewer has masks: it must never panic, and whatever it allows
// reads the tenant's documents only (a leading $match on the tenant field
// in the pipeline and in every sub-pipeline) and holds no refused stage.
func FuzzCheckMongo(f *testing.F) {
	files, _ := filepath.Glob("testdata/mongo/*.golden")
	for _, file := range files {
		raw, _ := os.ReadFile(file)
		for _, c := range parseGolden(nil, string(raw)) {
			f.Add(c.in)
		}
	}
	viewer, _ := BuiltinRole(RoleViewer)
	viewer.MaskedColumns = []string{"customers.email"}
	editor, _ := BuiltinRole(RoleEditor)
	scope := &Scope{Tenant: "shop_a", Isolation: IsolationRow, Database: "shop", TenantColumn: "tenant", TenantValue: "a"}
	subjects := []Subject{{User: "v", Scope: scope, Role: &viewer}, {User: "e", Scope: scope, Role: &editor}}
	f.Fuzz(func(t *testing.T, in string) {
		req, err := ParseMongoRequest([]byte(in))
		if err != nil {
			return
		}
		for _, s := range subjects {
			d, err := CheckMongo(s, nil, req)
			if err != nil {
				continue
			}
			if d.Read {
				checkFiltered(t, in, d.Pipeline)
				continue
			}
			if s.Role.Access < AccessWrite {
				t.Fatalf("%s: a read role may write", in)
			}
			if d.Op == MongoInsertOne {
				if len(d.Document) == 0 || d.Document[0].Key != "tenant" || d.Document[0].Value != "a" {
					t.Fatalf("%s: insert without the tenant field first: %v", in, d.Document)
				}
				continue
			}
			if !hasTenant(d.Filter) {
				t.Fatalf("%s: %s filter without the tenant: %v", in, d.Op, d.Filter)
			}
		}
	})
}

func isTenantMatch(st bson.D) bool {
	if len(st) != 1 || st[0].Key != "$match" {
		return false
	}
	q, ok := st[0].Value.(bson.D)
	return ok && len(q) == 1 && q[0].Key == "tenant" && q[0].Value == "a"
}

// hasTenant reports whether a filter is {tenant: "a"} or {$and: [..., {tenant: "a"}]}.
func hasTenant(q bson.D) bool {
	if len(q) == 1 && q[0].Key == "tenant" && q[0].Value == "a" {
		return true
	}
	if len(q) == 1 && q[0].Key == "$and" {
		if arr, ok := q[0].Value.(bson.A); ok {
			for _, x := range arr {
				if d, ok := x.(bson.D); ok && len(d) == 1 && d[0].Key == "tenant" && d[0].Value == "a" {
					return true
				}
			}
		}
	}
	return false
}

func checkFiltered(t *testing.T, in string, p []bson.D) {
	if len(p) == 0 || !isTenantMatch(p[0]) {
		t.Fatalf("%s: pipeline does not start with the tenant's $match: %v", in, p)
	}
	for _, st := range p {
		if len(st) != 1 {
			t.Fatalf("%s: malformed stage allowed: %v", in, st)
		}
		name := st[0].Key
		if _, bad := mongoRefusedStages[name]; bad {
			t.Fatalf("%s: refused stage %s allowed", in, name)
		}
		if !strings.HasPrefix(name, "$") {
			t.Fatalf("%s: stage %q allowed", in, name)
		}
		d, _ := st[0].Value.(bson.D)
		switch name {
		case "$lookup", "$unionWith":
			var sub []bson.D
			for _, e := range d {
				if e.Key == "pipeline" {
					sub, _ = subPipeline(e.Value, "")
				}
			}
			checkFiltered(t, in, sub)
		case "$graphLookup":
			ok := false
			for _, e := range d {
				if e.Key == "restrictSearchWithMatch" {
					q, _ := e.Value.(bson.D)
					ok = hasTenant(q)
				}
			}
			if !ok {
				t.Fatalf("%s: $graphLookup without the tenant: %v", in, d)
			}
		}
	}
}
