package nlp

import (
	"context"
	"strings"
	"testing"
)

func kennelSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "pets", PrimaryKey: []string{"pet_id"}, Columns: []*Column{
			{Name: "pet_id", Type: "integer", Kind: KindInt}, {Name: "pet_name", Type: "text", Kind: KindText},
			{Name: "pet_type", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Dog", "Cat"}},
			{Name: "pet_age", Type: "integer", Kind: KindInt}, {Name: "weight", Type: "real", Kind: KindNumber}}},
	}}
	s.index()
	return s
}

// A superlative whose adjective implies the column picks rows ("the
// youngest pet"), and an aggregate list names its column once, on a kennel
// and a school.
func TestImpliedSuperlativeAndListedAggregates(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		q := func(n string) string {
			if d == MySQL {
				return "`" + n + "`"
			}
			return `"` + n + `"`
		}
		cases := []struct {
			s        *Schema
			question string
			want     []string
		}{
			{kennelSchema(d), "What is the name of the youngest pet?", []string{"ORDER BY " + q("pets") + "." + q("pet_age") + " ASC", "LIMIT 1"}},
			{kennelSchema(d), "What is the average, minimum, and maximum weight of all pets?", []string{"AVG(" + q("pets") + "." + q("weight") + ")", "MIN(" + q("pets") + "." + q("weight") + ")", "MAX(" + q("pets") + "." + q("weight") + ")"}},
			{schoolSchema(d), "What is the name of the oldest teacher?", []string{"ORDER BY " + q("teacher") + "." + q("age") + " DESC", "LIMIT 1"}},
			{schoolSchema(d), "What is the average, minimum, and maximum age of all teachers?", []string{"AVG(" + q("teacher") + "." + q("age") + ")", "MIN(" + q("teacher") + "." + q("age") + ")", "MAX(" + q("teacher") + "." + q("age") + ")"}},
		}
		for _, c := range cases {
			res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
			if err != nil {
				t.Errorf("%s %q: %v", d, c.question, err)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(res.SQL, w) {
					t.Errorf("%s %q: SQL %s lacks %s", d, c.question, res.SQL, w)
				}
			}
		}
	}
}

// Columns named for display are shown by the star of a table grouped by
// all its columns, when the count reads another table: on a school and a
// shop. A table is never grouped by itself.
func TestGroupedWholeShowsColumns(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		cases := []struct {
			s        *Schema
			question string
			want     string
		}{
			{schoolSchema(d), "What is the name and age of the teacher with the most courses?", "LIMIT 1"},
			{shopSchema(d), "What are the name and country of customers with more than 2 orders?", "HAVING"},
		}
		for _, c := range cases {
			res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
			if err != nil {
				t.Errorf("%s %q: %v", d, c.question, err)
				continue
			}
			if !strings.Contains(res.SQL, c.want) || !strings.Contains(res.SQL, " JOIN ") {
				t.Errorf("%s %q: SQL %s", d, c.question, res.SQL)
			}
		}
		if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "Find the hometowns that have more than one teacher under age 50.", Schema: schoolSchema(d)}); err == nil && (strings.Contains(res.SQL, `GROUP BY "teacher"."teacher_id"`) || strings.Contains(res.SQL, "GROUP BY `teacher`.`teacher_id`")) {
			t.Errorf("%s: a table grouped by itself answered: %s", d, res.SQL)
		}
	}
}

// A money word that is the exact name of a numeric column names that
// column, and "amount of" before a numeric column is that column: on a
// poker table and a kennel.
func TestMoneyWordAsColumn(t *testing.T) {
	poker := &Schema{Dialect: Postgres, Tables: []*Table{{Name: "poker_player", PrimaryKey: []string{"poker_player_id"}, Columns: []*Column{
		{Name: "poker_player_id", Type: "integer", Kind: KindInt}, {Name: "earnings", Type: "real", Kind: KindNumber},
		{Name: "final_table_made", Type: "real", Kind: KindNumber}}}}}
	poker.index()
	cases := []struct {
		s        *Schema
		question string
		want     string
	}{
		{poker, "What is the average earnings of poker players?", `AVG("poker_player"."earnings")`},
		{kennelSchema(Postgres), "What is the largest amount of weight of all pets?", `MAX("pets"."weight")`},
	}
	for _, c := range cases {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, c.want) {
			t.Errorf("%q: SQL %s lacks %s", c.question, res.SQL, c.want)
		}
	}
}

// "the N most populated" and "the most populous" order by the population
// column: on a country table and a city table.
func TestPopulatedSuperlative(t *testing.T) {
	mk := func(name string) *Schema {
		s := &Schema{Dialect: Postgres, Tables: []*Table{{Name: name, PrimaryKey: []string{"id"}, Columns: []*Column{
			{Name: "id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
			{Name: "population", Type: "integer", Kind: KindInt}}}}}
		s.index()
		return s
	}
	cases := []struct {
		s        *Schema
		question string
		want     string
	}{
		{mk("country"), "Return the names of the 3 most populated countries.", `ORDER BY "country"."population" DESC LIMIT 3`},
		{mk("city"), "What is the name of the most populous city?", `ORDER BY "city"."population" DESC LIMIT 1`},
	}
	for _, c := range cases {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, c.want) {
			t.Errorf("%q: SQL %s lacks %s", c.question, res.SQL, c.want)
		}
	}
}

// "the number of X" where X is a numeric column is that column, and the
// ids of a table grouped whole are shown: on a shop and a school.
func TestNumberOfColumnAndGroupedIDs(t *testing.T) {
	shops := &Schema{Dialect: Postgres, Tables: []*Table{{Name: "shop", PrimaryKey: []string{"shop_id"}, Columns: []*Column{
		{Name: "shop_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
		{Name: "number_products", Type: "integer", Kind: KindInt}}}}}
	shops.index()
	cases := []struct {
		s        *Schema
		question string
		want     string
	}{
		{shops, "What is the maximum number of products of all shops?", `MAX("shop"."number_products")`},
		{schoolSchema(Postgres), "What is the average number of credits of all courses?", `AVG("course"."credits")`},
		{schoolSchema(Postgres), "What is the id and name of the teacher with the most courses?", `LIMIT 1`},
		{shopSchema(Postgres), "What are the ids and names of customers with more than 2 orders?", `HAVING`},
	}
	for _, c := range cases {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, c.want) {
			t.Errorf("%q: SQL %s lacks %s", c.question, res.SQL, c.want)
		}
	}
}

// "in descending order" without a column orders by the one column listed:
// on a poker table and a school.
func TestOrderByListed(t *testing.T) {
	poker := &Schema{Dialect: Postgres, Tables: []*Table{{Name: "poker_player", PrimaryKey: []string{"poker_player_id"}, Columns: []*Column{
		{Name: "poker_player_id", Type: "integer", Kind: KindInt}, {Name: "earnings", Type: "real", Kind: KindNumber}}}}}
	poker.index()
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{poker, "List the earnings of poker players in descending order.", `ORDER BY "poker_player"."earnings" DESC`},
		{schoolSchema(Postgres), "List the ages of all teachers in ascending order.", `ORDER BY "teacher"."age" ASC`},
		{schoolSchema(Postgres), "What are the titles of the courses sorted alphabetically?", `ORDER BY "course"."title"`},
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
}

// A question headed by a column of a table it never names asks for the
// different values of the column: on a country and a staff schema. Naming
// the table lists its rows.
func TestHeadColumnDistinct(t *testing.T) {
	world := &Schema{Dialect: Postgres, Tables: []*Table{
		{Name: "country", PrimaryKey: []string{"code"}, Columns: []*Column{
			{Name: "code", Type: "text", Kind: KindText}, {Name: "name", Type: "text", Kind: KindText},
			{Name: "region", Type: "text", Kind: KindText}}},
		{Name: "countrylanguage", PrimaryKey: []string{"countrycode", "language"}, Columns: []*Column{
			{Name: "countrycode", Type: "text", Kind: KindText},
			{Name: "language", Type: "text", Kind: KindText, Indexed: true, Values: []string{"English", "Dutch"}}},
			ForeignKeys: []ForeignKey{{Columns: []string{"countrycode"}, RefTable: "country", RefColumns: []string{"code"}}}},
	}}
	world.index()
	staff := &Schema{Dialect: Postgres, Tables: []*Table{{Name: "employee", PrimaryKey: []string{"employee_id"}, Columns: []*Column{
		{Name: "employee_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
		{Name: "city", Type: "text", Kind: KindText}, {Name: "age", Type: "integer", Kind: KindInt}}}}}
	staff.index()
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{world, "What are the regions that use English or Dutch?", `SELECT DISTINCT "country"."region"`},
		{staff, "What are the cities with an age above 30?", `SELECT DISTINCT "employee"."city"`},
		{staff, "What are the cities of employees with an age above 30?", `SELECT "employee".*`},
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
}

// "from old to young" orders by the column the adjectives imply, without
// "the": on a school and a clinic; an end that is no such adjective is
// declined.
func TestPlainOrderEnds(t *testing.T) {
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{schoolSchema(Postgres), "List the names of the teachers sorted by their age from old to young.", `ORDER BY "teacher"."age" DESC`},
		{clinicSchema(MySQL), "List the last names of the patients, sorted by age from young to old.", "ORDER BY `patients`.`age` ASC"},
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
	if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "List the names of the teachers sorted by age from old to blue.", Schema: schoolSchema(Postgres)}); err == nil {
		t.Errorf("answered %s, want a decline", res.SQL)
	}
}
