package nlp

import (
	"context"
	"strings"
	"testing"
)

// Two schemas whose link table holds two keys to one parent: a network of
// people and friends, and a club whose members refer other members; a
// third whose two keys are both roles (a current and a permanent address)
// stays ambiguous.
func roleSchemas(d Dialect) map[string]*Schema {
	mk := func(tables ...*Table) *Schema {
		s := &Schema{Dialect: d, Tables: tables}
		s.index()
		return s
	}
	id := func(n string) *Column { return &Column{Name: n, Type: "integer", Kind: KindInt} }
	txt := func(n string) *Column { return &Column{Name: n, Type: "text", Kind: KindText} }
	return map[string]*Schema{
		"network": mk(
			&Table{Name: "person", PrimaryKey: []string{"id"}, Columns: []*Column{id("id"), txt("name"), id("grade")}},
			&Table{Name: "friend", PrimaryKey: []string{"person_id", "friend_id"}, Columns: []*Column{id("person_id"), id("friend_id")},
				ForeignKeys: []ForeignKey{{Columns: []string{"person_id"}, RefTable: "person", RefColumns: []string{"id"}},
					{Columns: []string{"friend_id"}, RefTable: "person", RefColumns: []string{"id"}}}}),
		"club": mk(
			&Table{Name: "member", PrimaryKey: []string{"member_id"}, Columns: []*Column{id("member_id"), txt("name"), id("age")}},
			&Table{Name: "referrals", PrimaryKey: []string{"member_id", "referred_id"}, Columns: []*Column{id("member_id"), id("referred_id")},
				ForeignKeys: []ForeignKey{{Columns: []string{"referred_id"}, RefTable: "member", RefColumns: []string{"member_id"}},
					{Columns: []string{"member_id"}, RefTable: "member", RefColumns: []string{"member_id"}}}}),
		"housing": mk(
			&Table{Name: "address", PrimaryKey: []string{"address_id"}, Columns: []*Column{id("address_id"), txt("city")}},
			&Table{Name: "tenant", PrimaryKey: []string{"tenant_id"}, Columns: []*Column{id("tenant_id"), txt("name"), id("current_address_id"), id("permanent_address_id")},
				ForeignKeys: []ForeignKey{{Columns: []string{"current_address_id"}, RefTable: "address", RefColumns: []string{"address_id"}},
					{Columns: []string{"permanent_address_id"}, RefTable: "address", RefColumns: []string{"address_id"}}}}),
	}
}

func TestRoleKeyOwner(t *testing.T) {
	s := roleSchemas(Postgres)
	cases := []struct{ schema, child, parent, want string }{
		{"network", "friend", "person", "person_id"},
		{"club", "referrals", "member", "member_id"},
		{"housing", "tenant", "address", ""}, // both keys are roles: no choice
	}
	for _, c := range cases {
		ks := usableKeys(s[c.schema].Table(c.child), s[c.schema].Table(c.parent))
		got := ""
		if len(ks) == 1 {
			got = ks[0].Columns[0]
		}
		if got != c.want {
			t.Errorf("%s: usable key of %s to %s = %q, want %q", c.schema, c.child, c.parent, got, c.want)
		}
	}
}

func TestRoleKeyJoins(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		s := roleSchemas(d)
		q := map[Dialect]func(string) string{Postgres: func(n string) string { return `"` + n + `"` }, MySQL: func(n string) string { return "`" + n + "`" }}[d]
		cases := []struct{ schema, question, want string }{
			{"network", "how many friend rows are there for each person", q("friend") + "." + q("person_id") + " = " + q("person") + "." + q("id")},
			{"club", "how many referrals does each member have", q("referrals") + "." + q("member_id") + " = " + q("member") + "." + q("member_id")},
		}
		for _, c := range cases {
			res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: s[c.schema]})
			if err != nil {
				t.Errorf("%s %s %q: %v", d, c.schema, c.question, err)
				continue
			}
			if !strings.Contains(res.SQL, c.want) {
				t.Errorf("%s %s %q: SQL %s does not join on %s", d, c.schema, c.question, res.SQL, c.want)
			}
		}
		_, err := NewDeterministic().Translate(context.Background(), Request{Question: "how many tenants does each address have", Schema: s["housing"]})
		if err == nil || !strings.Contains(err.Error(), "different keys") {
			t.Errorf("%s housing: two role keys must decline, got %v", d, err)
		}
	}
}

// Of two keys to one table, the question's own word picks one (currently:
// current_address_id); neither word leaves the choice open: on a housing
// and a shipping schema.
func TestKeyNamedByQuestion(t *testing.T) {
	id := func(n string) *Column { return &Column{Name: n, Type: "integer", Kind: KindInt} }
	city := &Column{Name: "city", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Leeds", "York"}}
	housing := &Schema{Dialect: Postgres, Tables: []*Table{
		{Name: "address", PrimaryKey: []string{"address_id"}, Columns: []*Column{id("address_id"), city}},
		{Name: "tenant", PrimaryKey: []string{"tenant_id"}, Columns: []*Column{id("tenant_id"), {Name: "name", Type: "text", Kind: KindText}, id("current_address_id"), id("permanent_address_id")},
			ForeignKeys: []ForeignKey{{Columns: []string{"current_address_id"}, RefTable: "address", RefColumns: []string{"address_id"}},
				{Columns: []string{"permanent_address_id"}, RefTable: "address", RefColumns: []string{"address_id"}}}}}}
	housing.index()
	port := &Column{Name: "name", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Hull", "Dover"}}
	shipping := &Schema{Dialect: Postgres, Tables: []*Table{
		{Name: "port", PrimaryKey: []string{"port_id"}, Columns: []*Column{id("port_id"), port}},
		{Name: "voyage", PrimaryKey: []string{"voyage_id"}, Columns: []*Column{id("voyage_id"), id("origin_port_id"), id("destination_port_id")},
			ForeignKeys: []ForeignKey{{Columns: []string{"origin_port_id"}, RefTable: "port", RefColumns: []string{"port_id"}},
				{Columns: []string{"destination_port_id"}, RefTable: "port", RefColumns: []string{"port_id"}}}}}}
	shipping.index()
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{housing, "How many tenants currently live in York?", `"current_address_id"`},
		{shipping, "How many voyages have the destination Dover?", `"destination_port_id"`},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, c.want) {
			t.Errorf("%q: SQL %s lacks %s", c.question, res.SQL, c.want)
		}
	}
	if _, err := NewDeterministic().Translate(context.Background(), Request{Question: "How many tenants live in York?", Schema: housing}); err == nil {
		t.Errorf("two keys and no word for either: answered")
	}
}
