package nlp

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// The constructs of both.go, childlist.go, rankchild.go, verbs.go,
// superword.go, negmulti.go, roles.go and the people count of each.go, on
// schemas of their own (a geography, a library, a stadium, a friendship
// network) and the shop and school of the golden tests.

func textc(name string, vals ...string) *Column {
	return &Column{Name: name, Type: "text", Kind: KindText, Indexed: len(vals) > 0, Values: vals}
}

func intc(name string) *Column { return &Column{Name: name, Type: "integer", Kind: KindInt} }

func fkOn(col, ref, refCol string) ForeignKey {
	return ForeignKey{Columns: []string{col}, RefTable: ref, RefColumns: []string{refCol}}
}

// geoSchema: countries, the languages each speaks, their cities.
func geoSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "country", PrimaryKey: []string{"code"}, Columns: []*Column{
			textc("code"), textc("name", "Aruba", "Kenya", "Peru"), textc("continent", "Asia", "Europe", "Africa"),
			intc("population"), textc("government_form", "Republic", "Monarchy"), textc("head_of_state", "Beatrix", "Ruto")}},
		{Name: "country_language", PrimaryKey: []string{"country_code", "language"}, Columns: []*Column{
			textc("country_code"), textc("language", "English", "Dutch", "French"), intc("percentage")},
			ForeignKeys: []ForeignKey{fkOn("country_code", "country", "code")}},
		{Name: "city", PrimaryKey: []string{"id"}, Columns: []*Column{
			intc("id"), textc("name"), textc("country_code"), intc("population")},
			ForeignKeys: []ForeignKey{fkOn("country_code", "country", "code")}},
	}}
	s.index()
	return s
}

// librarySchema: members and their loans, each of one genre.
func librarySchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "member", PrimaryKey: []string{"member_id"}, Columns: []*Column{
			intc("member_id"), textc("name", "Ada", "Alan"), textc("city", "Leeds", "York")}},
		{Name: "loan", PrimaryKey: []string{"loan_id"}, Columns: []*Column{
			intc("loan_id"), intc("member_id"), textc("genre", "Poetry", "Drama", "Crime"), textc("title")},
			ForeignKeys: []ForeignKey{fkOn("member_id", "member", "member_id")}},
	}}
	s.index()
	return s
}

// stadiumSchema: a stadium has columns named like superlatives.
func stadiumSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "stadium", PrimaryKey: []string{"stadium_id"}, Columns: []*Column{
			intc("stadium_id"), textc("name"), intc("capacity"), intc("highest"), intc("lowest")}},
		{Name: "concert", PrimaryKey: []string{"concert_id"}, Columns: []*Column{
			intc("concert_id"), textc("concert_name"), intc("stadium_id"), intc("year")},
			ForeignKeys: []ForeignKey{fkOn("stadium_id", "stadium", "stadium_id")}},
	}}
	s.index()
	return s
}

// networkSchema: pupils, who is a friend of whom and who likes whom; both
// tables name their reference to a pupil student_id.
func networkSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "highschooler", PrimaryKey: []string{"id"}, Columns: []*Column{
			intc("id"), textc("name", "Kyle", "Jordan"), intc("grade")}},
		{Name: "friend", PrimaryKey: []string{"student_id", "friend_id"}, Columns: []*Column{intc("student_id"), intc("friend_id")},
			ForeignKeys: []ForeignKey{fkOn("student_id", "highschooler", "id"), fkOn("friend_id", "highschooler", "id")}},
		{Name: "likes", PrimaryKey: []string{"student_id", "liked_id"}, Columns: []*Column{intc("student_id"), intc("liked_id")},
			ForeignKeys: []ForeignKey{fkOn("student_id", "highschooler", "id"), fkOn("liked_id", "highschooler", "id")}},
	}}
	s.index()
	return s
}

// clubSchema: as the network, but only one table names its reference to a
// pupil student_id.
func clubSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "pupil", PrimaryKey: []string{"id"}, Columns: []*Column{intc("id"), textc("name", "Kyle")}},
		{Name: "membership", PrimaryKey: []string{"student_id", "club"}, Columns: []*Column{intc("student_id"), textc("club", "Chess", "Choir")},
			ForeignKeys: []ForeignKey{fkOn("student_id", "pupil", "id")}},
	}}
	s.index()
	return s
}

func runReach2(t *testing.T, cases []reachCase) {
	t.Helper()
	schemas := map[string]func(Dialect) *Schema{"shop": shopSchema, "school": schoolSchema, "geo": geoSchema,
		"library": librarySchema, "stadium": stadiumSchema, "network": networkSchema, "club": clubSchema, "cartoon": cartoonSchema}
	tr := NewDeterministic()
	for _, c := range cases {
		for _, d := range []Dialect{Postgres, MySQL} {
			s := schemas[c.schema](d)
			res, err := tr.Translate(context.Background(), Request{Question: c.q, Schema: s, Now: time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)})
			if c.decline {
				var u *Unanswerable
				if !errors.As(err, &u) && (err != nil || res.Confidence >= AnswerThreshold) {
					t.Errorf("%s %s: %q: want a refusal or a guess under the threshold, got %v %+v", d, c.schema, c.q, err, res)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s %s: %q: %v", d, c.schema, c.q, err)
				continue
			}
			sql := res.SQL
			if d == MySQL {
				sql = strings.ReplaceAll(sql, "`", `"`)
			}
			for _, w := range c.want {
				if !strings.Contains(sql, w) {
					t.Errorf("%s %s: %q: SQL lacks %s:\n%s", d, c.schema, c.q, w, res.SQL)
				}
			}
			if res.Confidence < c.minConf {
				t.Errorf("%s %s: %q: confidence %.2f < %.2f (%s)", d, c.schema, c.q, res.Confidence, c.minConf, res.Explanation)
			}
		}
	}
}

// TestReachBothValues: "X and Y" of a child table's column is both.
func TestReachBothValues(t *testing.T) {
	runReach2(t, []reachCase{
		{schema: "geo", q: "What is the number of countries that use English and Dutch?", want: []string{
			`("country_language"."language" = 'English')`, `) AND EXISTS (SELECT 1 FROM "country_language"`, `("country_language"."language" = 'Dutch')`}, minConf: 0.8},
		{schema: "library", q: "members with loans of Poetry and Drama", want: []string{
			`("loan"."genre" = 'Poetry')`, `) AND EXISTS (SELECT 1 FROM "loan"`, `("loan"."genre" = 'Drama')`}, minConf: 0.8},
		// The words before the first value said again before the second.
		{schema: "library", q: "members with loans of genre Poetry and loans of genre Drama", want: []string{
			`("loan"."genre" = 'Poetry')`, `) AND EXISTS (SELECT 1 FROM "loan"`}, minConf: 0.95},
		// "either" keeps the alternatives.
		{schema: "library", q: "members with loans of either Poetry or Drama", want: []string{`IN ('Poetry', 'Drama')`}, minConf: 0.8},
		// The rows listed are the parent's, named through its key.
		{schema: "library", q: "Show the member id with loan genre Poetry and Drama.", want: []string{
			`SELECT "member".* FROM "member" WHERE EXISTS`, `("loan"."genre" = 'Drama')`}, minConf: 0.7},
		// One loan cannot be of two genres: the loans of either.
		{schema: "library", q: "loans of Poetry and Drama", want: []string{`IN ('Poetry', 'Drama')`}, minConf: 0.8},
		// After alternatives, "and" is not decided.
		{schema: "library", q: "members with loans of Poetry or Drama and Crime", decline: true},
		{schema: "geo", q: "countries that use English or Dutch and French", decline: true},
	})
}

// TestReachChildListing: a child table's columns listed for the parent
// rows the question conditions.
func TestReachChildListing(t *testing.T) {
	runReach2(t, []reachCase{
		{schema: "geo", q: "What is the language spoken in the country whose head of state is Beatrix?", want: []string{
			`SELECT "country_language".*`, `FROM "country_language" JOIN "country"`, `("country"."head_of_state" = 'Beatrix')`}, minConf: 0.9},
		{schema: "library", q: "Show the genres and titles for the member with name Ada.", want: []string{
			`SELECT "loan".*`, `FROM "loan" JOIN "member"`, `("member"."name" = 'Ada')`}, minConf: 0.9},
		// A superlative keeps the parent's rows: one country, not one language.
		{schema: "geo", q: "What is the language of the country with the largest population?", decline: true},
		// A column of two tables below: not one child.
		{schema: "school", q: "the titles of the courses and the grades for the teacher named Bob", decline: true},
	})
}

// TestReachChildRank: the value of a child's column reaching the most
// parent rows.
func TestReachChildRank(t *testing.T) {
	runReach2(t, []reachCase{
		{schema: "geo", q: "Give the language that is spoken in the most countries.", want: []string{
			`COUNT(DISTINCT "country_language"."country_code")`, `GROUP BY "country_language"."language"`, `DESC LIMIT 1`}, minConf: 0.9},
		{schema: "school", q: "the subject taught by the most teachers", want: []string{
			`COUNT(DISTINCT "course"."teacher_id")`, `GROUP BY "course"."subject"`, `DESC LIMIT 1`}, minConf: 0.9},
		// A group by a column of the counted table itself, the verb between.
		{schema: "geo", q: "the government form used by the most countries", want: []string{
			`GROUP BY "country"."government_form"`, `DESC LIMIT 1`}, minConf: 0.9},
		// The category is no column below the customers.
		{schema: "shop", q: "the category bought by the most customers", decline: true},
	})
}

// TestReachRelationVerbs: a verb relating rows, beside the value it
// relates or before a column named with its value.
func TestReachRelationVerbs(t *testing.T) {
	runReach2(t, []reachCase{
		{schema: "geo", q: "What is the continent which Aruba belongs to?", want: []string{`("country"."name" = 'Aruba')`}, minConf: 0.9},
		{schema: "library", q: "How many loans featuring genre Poetry?", want: []string{`COUNT(`, `("loan"."genre" = 'Poetry')`}, minConf: 0.9},
		// Related to nothing the query reads.
		{schema: "geo", q: "countries that support", decline: true},
		{schema: "library", q: "members featuring", decline: true},
	})
}

// TestReachSuperlativeColumn: a superlative before a numeric column orders
// by that column, also when a column is named like the superlative.
func TestReachSuperlativeColumn(t *testing.T) {
	runReach2(t, []reachCase{
		{schema: "stadium", q: "the name of the stadium with the highest capacity", want: []string{`ORDER BY "stadium"."capacity" DESC LIMIT 1`}, minConf: 0.9},
		{schema: "shop", q: "the product with the highest price", want: []string{`ORDER BY "products"."price" DESC LIMIT 1`}, minConf: 0.9},
		// A count of the rows of the top row is not a ranking of counts.
		{schema: "stadium", q: "the number of concerts in the stadium with the largest capacity", decline: true},
		{schema: "shop", q: "the number of orders of the product with the highest price", decline: true},
	})
}

// TestReachNegatedValues: several negations in one question.
func TestReachNegatedValues(t *testing.T) {
	runReach2(t, []reachCase{
		{schema: "geo", q: "the countries that do not speak English and whose government form is not Republic", want: []string{
			`NOT EXISTS (SELECT 1 FROM "country_language"`, `("country"."government_form" <> 'Republic')`}, minConf: 0.9},
		{schema: "library", q: "members whose city is not Leeds and who do not have loans of genre Poetry", want: []string{
			`("member"."city" <> 'Leeds')`, `NOT EXISTS (SELECT 1 FROM "loan"`}, minConf: 0.9},
		{schema: "geo", q: "countries that do not speak English and are not green", decline: true},
	})
}

// TestReachPeople: people counted by a population column.
func TestReachPeople(t *testing.T) {
	runReach2(t, []reachCase{
		{schema: "geo", q: "How many people live in Asia?", want: []string{`SUM("country"."population")`, `("country"."continent" = 'Asia')`}, minConf: 0.9},
		{schema: "geo", q: "What is the total number of people living in the countries that do not use English?", want: []string{
			`SUM("country"."population")`, `NOT EXISTS`}, minConf: 0.9},
		// Two tables named with a population.
		{schema: "geo", q: "the total number of people in the cities of countries in Asia", decline: true},
		// No population column.
		{schema: "library", q: "the total number of people in Leeds", decline: true},
	})
}

// TestReachRoles: a role several tables use for their key to one table
// names that table; a person table named by what they attend.
func TestReachRoles(t *testing.T) {
	runReach2(t, []reachCase{
		{schema: "network", q: "What are the names of students who have no friends?", want: []string{
			`FROM "highschooler" WHERE NOT EXISTS (SELECT 1 FROM "friend" WHERE ("friend"."student_id" = "highschooler"."id"))`}, minConf: 0.8},
		{schema: "network", q: "How many friends does the high school student Kyle have?", want: []string{
			`JOIN "highschooler"`, `("highschooler"."name" = 'Kyle')`}, minConf: 0.9},
		// A friend row names two students: whose name is shown is a guess.
		{schema: "network", q: "Return the names of friends of the high school student Kyle.", decline: true},
	})
}

// TestRoleOfOneTable: a role only one table uses for its key stays that
// table's column; used by two, it names the table referred to.
func TestRoleOfOneTable(t *testing.T) {
	for _, c := range []struct {
		s    *Schema
		want string
	}{{clubSchema(Postgres), ""}, {networkSchema(Postgres), "highschooler"}} {
		p := &parser{s: c.s, lx: NewDeterministic().lex.get(c.s, nil), r: newRenderer(Postgres)}
		p.toks = rewriteComparisons(tokenize("students who have no friends"))
		p.link()
		got := ""
		for _, m := range p.ms {
			if m.start == 0 && m.kind == mTable {
				got = p.bestTable(m).Name
			}
		}
		if got != c.want {
			t.Errorf("%s: \"students\" names table %q, want %q", c.s.Tables[0].Name, got, c.want)
		}
	}
}

// cartoonSchema: cartoons with who directed and wrote them, on channels
// that also air series.
func cartoonSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "channel", PrimaryKey: []string{"id"}, Columns: []*Column{intc("id"), textc("series_name", "Sky Radio")}},
		{Name: "cartoon", PrimaryKey: []string{"id"}, Columns: []*Column{intc("id"), textc("title"),
			textc("directed_by", "Ben Jones"), textc("written_by", "Todd Casey"), textc("original_air_date"), intc("channel")},
			ForeignKeys: []ForeignKey{fkOn("channel", "channel", "id")}},
		{Name: "series", PrimaryKey: []string{"id"}, Columns: []*Column{intc("id"), textc("episode"), textc("air_date"), intc("channel")},
			ForeignKeys: []ForeignKey{fkOn("channel", "channel", "id")}},
	}}
	s.index()
	return s
}

// TestReachNumberEquality: a numeric column equal to one number or
// either of several.
func TestReachNumberEquality(t *testing.T) {
	runReach2(t, []reachCase{
		{schema: "school", q: "Show the name of teachers aged either 32 or 33?", want: []string{`("teacher"."age" IN (32.0, 33.0))`}, minConf: 0.9},
		{schema: "geo", q: "the countries in Europe with a population of 80000", want: []string{`("country"."population" = 80000.0)`, `'Europe'`}, minConf: 0.9},
		{schema: "shop", q: "products whose price is 10 or 20", want: []string{`("products"."price" IN (10.0, 20.0))`}, minConf: 0.9},
		// No numeric column before the number.
		{schema: "library", q: "members of 80000", decline: true},
	})
}

// TestReachAgentNouns: "directors" names directed_by, "writers"
// written_by; an order by the listed table's own column.
func TestReachAgentNouns(t *testing.T) {
	runReach2(t, []reachCase{
		{schema: "cartoon", q: "list all cartoon titles and their directors ordered by their air date", want: []string{
			`FROM "cartoon" ORDER BY "cartoon"."original_air_date" ASC`}, minConf: 0.9},
		{schema: "cartoon", q: "the number of cartoons of each writer", want: []string{`GROUP BY "cartoon"."written_by"`}, minConf: 0.9},
		// A series' air date is its own.
		{schema: "cartoon", q: "list the series episodes ordered by air date", want: []string{`ORDER BY "series"."air_date"`}, minConf: 0.9},
		// No column is named after what producers did.
		{schema: "cartoon", q: "list all cartoon titles and their producers", decline: true},
	})
}

// TestReachListedCounts: a plural number column grouped by the count of
// its rows, COUNT(DISTINCT) over a list of columns, "country of origin".
func TestReachListedCounts(t *testing.T) {
	runReach2(t, []reachCase{
		{schema: "network", q: "Which grades have 4 or more high schoolers?", want: []string{`GROUP BY "highschooler"."grade" HAVING (COUNT(`}, minConf: 0.9},
		{schema: "school", q: "Show all ages that have at least 2 teachers.", want: []string{`GROUP BY "teacher"."age" HAVING (COUNT(`}, minConf: 0.9},
		// One row's number is not a group.
		{schema: "school", q: "Show the age that have at least 2 teachers.", decline: true},
		{schema: "cartoon", q: "the number of different titles and directors of cartoons", want: []string{
			`COUNT(DISTINCT "cartoon"."title")`, `COUNT(DISTINCT "cartoon"."directed_by")`}, minConf: 0.9},
		{schema: "geo", q: "the number of different continents and government forms of countries", want: []string{
			`COUNT(DISTINCT "country"."continent")`, `COUNT(DISTINCT "country"."government_form")`}, minConf: 0.9},
		{schema: "library", q: "the name and city of origin of every member", want: []string{`SELECT "member".* FROM "member"`}, minConf: 0.9},
		// Origin qualifies no place.
		{schema: "library", q: "the name of origin of every member", decline: true},
	})
}

// TestReachPairListing: the rows of a main table paired with those of a
// table named after "and", directly below it or through the table whose
// two keys relate them.
func TestReachPairListing(t *testing.T) {
	runReach2(t, []reachCase{
		{schema: "school", q: "Show the names of teachers and the courses they teach.", want: []string{
			`SELECT "course".*, "teacher"."name" AS "teacher_name" FROM "course" JOIN "teacher"`}, minConf: 0.9},
		{schema: "school", q: "Show the names of students and the courses they take.", want: []string{
			`FROM "enrollment" JOIN`, `"student"."name" AS "student_name"`, `"course"."title" AS "course_title"`}, minConf: 0.9},
		{schema: "library", q: "the names of members and the loans they have", want: []string{`SELECT "loan".*, "member"."name" AS "member_name" FROM "loan" JOIN "member"`}, minConf: 0.9},
		// No one table relates teachers and students.
		{schema: "school", q: "Show the names of teachers and the students they teach.", decline: true},
	})
}

// TestReachAsWellAs: "as well as" joins a list like "and".
func TestReachAsWellAs(t *testing.T) {
	runReach2(t, []reachCase{
		{schema: "cartoon", q: "the number of different titles as well as directors of cartoons", want: []string{
			`COUNT(DISTINCT "cartoon"."title")`, `COUNT(DISTINCT "cartoon"."directed_by")`}, minConf: 0.9},
		{schema: "school", q: "Show the names of teachers as well as the courses they teach.", want: []string{`FROM "course" JOIN "teacher"`}, minConf: 0.9},
		// Nothing before it to join.
		{schema: "school", q: "as well as teachers", decline: true},
	})
}

// TestReachPartOfValue: a stored value introduced as a letter or word of a
// column is a substring of it; named as it is, it is the value.
func TestReachPartOfValue(t *testing.T) {
	runReach2(t, []reachCase{
		{schema: "library", q: "members with the word 'Ada' in their name", want: []string{`("member"."name" LIKE '%Ada%')`}, minConf: 0.9},
		{schema: "geo", q: "countries with the word 'Kenya' in their name", want: []string{`("country"."name" LIKE '%Kenya%')`}, minConf: 0.9},
		{schema: "library", q: "members named 'Ada'", want: []string{`("member"."name" = 'Ada')`}, minConf: 0.9},
		// No text column to hold the part.
		{schema: "library", q: "the word 'Ada'", decline: true},
	})
}
