package nlp

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// renderSchema has what the pipeline renderer must decline: a field that
// holds arrays, one of mixed types, a nullable key and a nullable number.
func renderSchema() *Schema {
	one := func(name, ty string, k Kind) *Column {
		return &Column{Name: name, Type: ty, Kind: k, Presence: 1, Types: map[string]float64{ty: 1}}
	}
	s := &Schema{Dialect: Mongo, Tables: []*Table{
		{Name: "users", PrimaryKey: []string{"_id"}, Columns: []*Column{
			one("_id", "int", KindInt), one("name", "string", KindText),
			{Name: "tags", Type: "string", Kind: KindText, Array: true, Presence: 1, Types: map[string]float64{"string": 1}},
			{Name: "code", Type: "string", Kind: KindText, Presence: 1, Types: map[string]float64{"string": 0.6, "int": 0.4}},
			{Name: "score", Type: "double", Kind: KindNumber, Presence: 0.7, Nullable: true, Types: map[string]float64{"double": 0.7}},
			{Name: "team_id", Type: "int", Kind: KindInt, Presence: 0.9, Nullable: true, Types: map[string]float64{"int": 0.9}},
		}, ForeignKeys: []ForeignKey{{Columns: []string{"team_id"}, RefTable: "teams", RefColumns: []string{"lead"}}}},
		{Name: "teams", PrimaryKey: []string{"_id"}, Columns: []*Column{
			one("_id", "int", KindInt), one("title", "string", KindText),
			{Name: "lead", Type: "int", Kind: KindInt, Presence: 0.5, Nullable: true, Types: map[string]float64{"int": 0.5}},
		}},
	}}
	s.index()
	return s
}

func TestMongoRenderDeclines(t *testing.T) {
	s := renderSchema()
	u := func(c string) colExpr { return colExpr{"users", c} }
	for _, tc := range []struct {
		name string
		q    *selectQ
		want string
	}{
		{"array comparison", &selectQ{from: "users", items: []selItem{{e: starExpr{"users"}}}, where: []sqlExpr{binExpr{u("tags"), "=", litExpr{"x"}}}}, "holds arrays"},
		{"mixed types", &selectQ{from: "users", items: []selItem{{e: starExpr{"users"}}}, where: []sqlExpr{binExpr{u("code"), "=", litExpr{"x"}}}}, "several types"},
		{"order by nullable", &selectQ{from: "users", items: []selItem{{e: starExpr{"users"}}}, order: []orderItem{{e: u("score")}}}, "may be null"},
		{"sum of nullable", &selectQ{from: "users", items: []selItem{{e: aggExpr{fn: "SUM", arg: u("score")}, alias: "s"}}}, "SUM of"},
		{"left join on nullable keys", &selectQ{from: "users", items: []selItem{{e: starExpr{"users"}}},
			joins: []joinClause{{left: true, rel: "teams", on: []sqlExpr{binExpr{u("team_id"), "=", colExpr{"teams", "lead"}}}}}}, "may be null"},
		{"division by a column", &selectQ{from: "users", items: []selItem{{e: binExpr{u("_id"), "/", u("team_id")}, alias: "x"}}}, "division"},
		{"text for a number", &selectQ{from: "users", items: []selItem{{e: starExpr{"users"}}}, where: []sqlExpr{binExpr{u("score"), ">", litExpr{"high"}}}}, "text value"},
		{"count subquery", &selectQ{from: "users", items: []selItem{{e: starExpr{"users"}}},
			where: []sqlExpr{binExpr{u("_id"), ">", subqExpr{&selectQ{from: "teams", items: []selItem{{e: aggExpr{fn: "COUNT"}}}}}}}}, "COUNT"},
		{"subquery inside OR", &selectQ{from: "users", items: []selItem{{e: starExpr{"users"}}},
			where: []sqlExpr{binExpr{binExpr{u("_id"), ">", subqExpr{&selectQ{from: "teams", items: []selItem{{e: aggExpr{fn: "AVG", arg: colExpr{"teams", "_id"}}}}}}}, "OR", binExpr{u("_id"), "=", litExpr{int64(1)}}}}}, "inside OR"},
		{"name starting with $", &selectQ{from: "$cmd", items: []selItem{{e: starExpr{"$cmd"}}}}, "not in the schema"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mq, err := renderMongo(s, tc.q)
			var mu *MongoUnsupported
			if err == nil || !errors.As(err, &mu) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want a refusal naming %q", mq, err, tc.want)
			}
		})
	}
	// Control: the same shapes on fields that allow them render.
	ok := []*selectQ{
		{from: "users", items: []selItem{{e: starExpr{"users"}}}, where: []sqlExpr{binExpr{u("name"), "=", litExpr{"x"}}}},
		{from: "users", items: []selItem{{e: starExpr{"users"}}}, order: []orderItem{{e: u("name")}}},
		{from: "users", items: []selItem{{e: aggExpr{fn: "AVG", arg: u("score")}, alias: "a"}}},
		{from: "users", items: []selItem{{e: starExpr{"users"}}},
			joins: []joinClause{{rel: "teams", on: []sqlExpr{binExpr{u("team_id"), "=", colExpr{"teams", "lead"}}}}}},
	}
	for i, q := range ok {
		if _, err := renderMongo(s, q); err != nil {
			t.Errorf("control %d: %v", i, err)
		}
	}
}

// TestMongoTranslatorsDecline: examples and a model write SQL, which a
// MongoDB tenant does not run.
func TestMongoTranslatorsDecline(t *testing.T) {
	s := renderSchema()
	ctx := context.Background()
	ex := []Example{{Question: "all users", SQL: "SELECT * FROM users"}}
	tr, err := NewDeterministic().Translate(ctx, Request{Question: "all users", Schema: s, Examples: ex})
	if err != nil || tr.Mongo == nil || tr.Source != "deterministic" {
		t.Fatalf("example on a MongoDB schema: %+v, %v", tr, err)
	}
	o := &OpenAI{}
	if _, err := o.Translate(ctx, Request{Question: "all users", Schema: s}); err == nil || !strings.Contains(err.Error(), "MongoDB") {
		t.Fatalf("model without fallback: %v", err)
	}
}

// TestMongoUnfollowedReference: a field named like a reference that the
// inferred schema cannot follow lowers the confidence of an answer that
// reads it; a known reference and a collection's own key column do not.
func TestMongoUnfollowedReference(t *testing.T) {
	s := renderSchema()
	users := s.Table("users")
	users.Columns = append(users.Columns, &Column{Name: "coach_id", Type: "int", Kind: KindInt, Presence: 1, Types: map[string]float64{"int": 1}},
		&Column{Name: "users_id", Type: "int", Kind: KindInt, Presence: 1, Types: map[string]float64{"int": 1}})
	for _, tc := range []struct {
		col  string
		want bool
	}{{"coach_id", true}, {"team_id", false}, {"users_id", false}, {"name", false}, {"_id", false}} {
		if got := unfollowedReference(users, users.Column(tc.col)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.col, got, tc.want)
		}
	}
	ctx := context.Background()
	hi, err := NewDeterministic().Translate(ctx, Request{Question: "users sorted by name", Schema: s})
	if err != nil {
		t.Fatal(err)
	}
	lo, err := NewDeterministic().Translate(ctx, Request{Question: "users sorted by coach id", Schema: s})
	if err != nil {
		t.Fatal(err)
	}
	if lo.Confidence > hi.Confidence-penNoReference+0.001 || !strings.Contains(lo.Explanation, "reference") {
		t.Errorf("coach id: %.2f (%s); name: %.2f", lo.Confidence, lo.Explanation, hi.Confidence)
	}
}
