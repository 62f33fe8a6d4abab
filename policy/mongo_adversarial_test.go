package policy

import (
	"strings"
	"testing"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// TestMongoAdversarial runs hostile requests through CheckMongo. Each case
// names what the attacker's role must be told (want, a part of the
// message) and a control: the same request by a role without the
// restriction, which the policy lets through, so that the case can fail.
func TestMongoAdversarial(t *testing.T) {
	cfgs := mongoGoldenConfigs()
	viewer, analyst := cfgs["viewer"], cfgs["analyst"]
	rowEditor := cfgs["row_editor"]
	// An editor of the row tenant with masks, and the same without.
	maskedEditor := rowEditor
	r := *rowEditor.s.Role
	r.MaskedColumns = []string{"customers.email", "customers.items.secret"}
	maskedEditor.s.Role = &r
	// A role allowed one collection.
	narrow := analyst
	nr := *analyst.s.Role
	nr.AllowedTables = []string{"orders"}
	narrow.s.Role, narrow.colls = &nr, nil
	// The tenant without a collection allow-list: every collection.
	open := analyst
	open.colls = nil
	type cfg = struct {
		s     Subject
		colls []string
	}
	cases := []struct {
		name          string
		attacker, ctl cfg
		req, want     string
	}{
		// Collection names are case-sensitive on the server.
		{"allow-list case variant", viewer, open, `{"collection": "Customers", "find": {}}`, `collection "Customers", which is not among`},
		{"allow-list case variant in $lookup", viewer, open, `{"collection": "orders", "pipeline": [{"$lookup": {"from": "ORDERS", "pipeline": [], "as": "x"}}]}`, `collection "ORDERS", which is not among`},
		{"role allow-list case variant", narrow, open, `{"collection": "Orders", "find": {}}`, `may not read collection "Orders"`},
		// Array indexes and positions reach masked fields.
		{"masked field by array index in $match", viewer, analyst, `{"collection": "customers", "find": {"filter": {"address.0.street": {"$regex": "^M"}}}}`, `field "address.street" is masked`},
		{"masked field by array index in $sort", viewer, analyst, `{"collection": "customers", "find": {"sort": {"address.0.street": 1}}}`, `field "address.street" is masked`},
		{"masked field by nested indexes", viewer, analyst, `{"collection": "customers", "pipeline": [{"$match": {"address.0.1.street": "x"}}]}`, `field "address.street" is masked`},
		{"masked foreignField by array index", viewer, analyst, `{"collection": "orders", "pipeline": [{"$lookup": {"from": "customers", "localField": "x", "foreignField": "address.0.street", "as": "c"}}]}`, `field "address.street" is masked`},
		{"masked field by index in a write filter", maskedEditor, rowEditor, `{"collection": "customers", "delete_many": {"filter": {"items.3.secret": "s"}}}`, `field "items.secret" is masked`},
		// Writes that read a masked value.
		{"$rename of a masked field", maskedEditor, rowEditor, `{"collection": "customers", "update_many": {"filter": {}, "update": {"$rename": {"email": "leak"}}}}`, `not $rename "email"`},
		{"$rename of a masked field's parent", maskedEditor, rowEditor, `{"collection": "customers", "update_many": {"filter": {}, "update": {"$rename": {"items": "leak"}}}}`, `not $rename "items"`},
		{"$max of a masked field", maskedEditor, rowEditor, `{"collection": "customers", "update_many": {"filter": {}, "update": {"$max": {"email": "m"}}}}`, `not $max "email"`},
		{"$pull by a masked field", maskedEditor, rowEditor, `{"collection": "customers", "update_many": {"filter": {}, "update": {"$pull": {"items": {"secret": "s"}}}}}`, `not $pull "items"`},
		{"$push sorted by a masked field", maskedEditor, rowEditor, `{"collection": "customers", "update_many": {"filter": {}, "update": {"$push": {"items": {"$each": [], "$sort": {"secret": 1}}}}}}`, `not $push "items"`},
		{"$set inside a masked value", maskedEditor, rowEditor, `{"collection": "customers", "update_many": {"filter": {}, "update": {"$set": {"email.x": 1}}}}`, `not $set "email.x"`},
		{"$set inside a masked array element", maskedEditor, rowEditor, `{"collection": "customers", "update_many": {"filter": {}, "update": {"$set": {"items.$[].secret.x": 1}}}}`, `not $set "items.$[].secret.x"`},
		{"$inc of a masked field", maskedEditor, rowEditor, `{"collection": "customers", "update_many": {"filter": {}, "update": {"$inc": {"items.0.secret": 1}}}}`, `not $inc "items.0.secret"`},
	}
	for _, c := range cases {
		req, err := ParseMongoRequest([]byte(c.req))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, err = CheckMongo(c.attacker.s, c.attacker.colls, req)
		if e := sqlerr.As(err); e == nil || e.SQLState() != "42501" || !strings.Contains(e.Message, c.want) {
			t.Errorf("%s: %v, want 42501 %q", c.name, err, c.want)
		}
		req, _ = ParseMongoRequest([]byte(c.req))
		if _, err := CheckMongo(c.ctl.s, c.ctl.colls, req); err != nil {
			t.Errorf("%s: control: %v", c.name, err)
		}
	}
	// A masked value may be overwritten: $set and $unset of it or of a
	// parent path run.
	for _, u := range []string{`{"$set": {"email": "x"}}`, `{"$unset": {"email": ""}}`, `{"$set": {"items": []}}`,
		`{"$set": {"items.0": {"sku": "k"}}}`, `{"$set": {"items.$[].secret": "x"}}`, `{"$inc": {"n": 1}}`, `{"$rename": {"name": "nom"}}`} {
		req, err := ParseMongoRequest([]byte(`{"collection": "customers", "update_many": {"filter": {}, "update": ` + u + `}}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := CheckMongo(maskedEditor.s, maskedEditor.colls, req); err != nil {
			t.Errorf("overwrite %s: %v", u, err)
		}
	}
}

func TestFieldPath(t *testing.T) {
	for in, want := range map[string]string{
		"a.0.b": "a.b", "A.B": "a.b", "items.$[].x": "items.x", "items.$[e].x": "items.x", "items.$": "items",
		"a0.b1": "a0.b1", "0": "", "a.00.b.12": "a.b",
	} {
		if got := fieldPath(in); got != want {
			t.Errorf("fieldPath(%q) = %q, want %q", in, got, want)
		}
	}
}
