package nlp

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// reachCase is one question of a construct on one schema: the fragments
// its SQL must hold, or, with decline set, a refusal.
type reachCase struct {
	schema, q string
	want      []string
	decline   bool
	minConf   float64
}

func runReach(t *testing.T, cases []reachCase) {
	t.Helper()
	schemas := map[string]func(Dialect) *Schema{"shop": shopSchema, "school": schoolSchema, "staff": staffSchema}
	tr := NewDeterministic()
	for _, c := range cases {
		s := schemas[c.schema](Postgres)
		res, err := tr.Translate(context.Background(), Request{Question: c.q, Schema: s, Now: time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)})
		if c.decline {
			var u *Unanswerable
			if !errors.As(err, &u) {
				t.Errorf("%s: %q: want a refusal, got %v %+v", c.schema, c.q, err, res)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %q: %v", c.schema, c.q, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(res.SQL, w) {
				t.Errorf("%s: %q: SQL lacks %s:\n%s", c.schema, c.q, w, res.SQL)
			}
		}
		if res.Confidence < c.minConf {
			t.Errorf("%s: %q: confidence %.2f < %.2f (%s)", c.schema, c.q, res.Confidence, c.minConf, res.Explanation)
		}
	}
}

// staffSchema is a third domain with a hierarchy: employees report to
// employees, and serve clients.
func staffSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "staff", PrimaryKey: []string{"staff_id"}, Columns: []*Column{
			{Name: "staff_id", Type: "integer", Kind: KindInt}, {Name: "first_name", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Ada", "Alan", "Grace"}},
			{Name: "last_name", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Lovelace", "Turing", "Hopper"}},
			{Name: "manager_id", Type: "integer", Kind: KindInt, Nullable: true}},
			ForeignKeys: []ForeignKey{{Columns: []string{"manager_id"}, RefTable: "staff", RefColumns: []string{"staff_id"}}}},
		{Name: "client", PrimaryKey: []string{"client_id"}, Columns: []*Column{
			{Name: "client_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
			{Name: "staff_id", Type: "integer", Kind: KindInt}},
			ForeignKeys: []ForeignKey{{Columns: []string{"staff_id"}, RefTable: "staff", RefColumns: []string{"staff_id"}}}},
	}}
	s.index()
	return s
}

// TestReachSales: verbs of buying and selling stand for the sales table
// below the row they qualify; without one the question is declined.
func TestReachSales(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "products that were never purchased", want: []string{`NOT EXISTS (SELECT 1 FROM "orders"`, `"orders"."product_id" = "products"."id"`}, minConf: 0.9},
		{schema: "shop", q: "customers who made at least one purchase", want: []string{`WHERE EXISTS (SELECT 1 FROM "orders"`}, minConf: 0.9},
		{schema: "shop", q: "the best selling product", want: []string{`COUNT(`, `GROUP BY "products"."id"`, `DESC LIMIT 1`}, minConf: 0.8},
		{schema: "shop", q: "top 2 best selling products", want: []string{`GROUP BY "products"."id"`, `DESC LIMIT 2`}, minConf: 0.8},
		{schema: "shop", q: "the most purchased product category", decline: true},
		// No table of the school records a sale.
		{schema: "school", q: "courses that were never purchased", decline: true},
		{schema: "school", q: "the best selling course", decline: true},
		{schema: "staff", q: "the best selling staff", decline: true},
	})
}

// TestReachHierarchy: a key of a table to itself is read only as "no
// parent" or "the parent named by its values"; anything else is declined.
func TestReachHierarchy(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "staff", q: "staff who do not have a manager", want: []string{`"staff"."manager_id" IS NULL`}, minConf: 0.9},
		{schema: "staff", q: "list the staff without a manager", want: []string{`"staff"."manager_id" IS NULL`}, minConf: 0.9},
		{schema: "staff", q: "staff managed by Ada Lovelace", want: []string{`"staff"."manager_id" IN (SELECT "staff"."staff_id" FROM "staff" WHERE ("staff"."first_name" = 'Ada') AND ("staff"."last_name" = 'Lovelace'))`}, minConf: 0.8},
		{schema: "staff", q: "staff who report to Grace Hopper", want: []string{`"staff"."manager_id" IN (SELECT "staff"."staff_id" FROM "staff" WHERE ("staff"."first_name" = 'Grace') AND ("staff"."last_name" = 'Hopper'))`}, minConf: 0.8},
		{schema: "staff", q: "list the staff with their manager", want: []string{
			`("manager"."first_name" || ' ' || "manager"."last_name") AS "manager_name" FROM "staff" LEFT JOIN "staff" AS "manager" ON ("staff"."manager_id" = "manager"."staff_id")`}, minConf: 0.9},
		// Two first names are no one row; counts over the hierarchy and a
		// manager's own rows need more than a second copy of the table.
		{schema: "staff", q: "staff who report to Grace Ada", decline: true},
		{schema: "staff", q: "how many staff with their manager", decline: true},
		{schema: "staff", q: "the manager of Alan Turing", decline: true},
	})
}

// TestReachCountVsAverage: a row's count of related rows compared with the
// average count per row.
func TestReachCountVsAverage(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "customers with more orders than the average", want: []string{
			`HAVING (COUNT("orders"."id") > (SELECT AVG("per_customers"."cnt") FROM (SELECT COUNT(*) AS "cnt" FROM "orders" GROUP BY "orders"."customer_id") AS "per_customers"))`}, minConf: 0.8},
		{schema: "school", q: "teachers who have more courses than the average number of courses per teacher", want: []string{
			`HAVING (COUNT("course"."course_id") > (SELECT AVG("per_teacher"."cnt") FROM (SELECT COUNT(*) AS "cnt" FROM "course" GROUP BY "course"."teacher_id") AS "per_teacher"))`}, minConf: 0.8},
		{schema: "school", q: "teachers with fewer courses than average", want: []string{`HAVING (COUNT("course"."course_id") < (SELECT AVG(`}, minConf: 0.8},
		// An average per another table is not this construct.
		{schema: "school", q: "teachers with more courses than the average per student", decline: true},
	})
}

// TestReachMoneyRank: a superlative of a money word ranks the named rows by
// the sum of the money their rows record.
func TestReachMoneyRank(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "which customer made the most in sales in 2024", want: []string{`SUM(("products"."price" * "orders"."quantity"))`, `GROUP BY "customers"."id"`, `DESC LIMIT 1`, `"orders"."ordered_at" >= '2024-01-01'`}, minConf: 0.8},
		{schema: "school", q: "which teacher made the most in sales", decline: true},
	})
}

// billingSchema holds a value in two tables (a client's country and the
// country a bill was sent to) and a person table.
func billingSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "agent", PrimaryKey: []string{"agent_id"}, Columns: []*Column{
			{Name: "agent_id", Type: "integer", Kind: KindInt}, {Name: "first_name", Type: "text", Kind: KindText},
			{Name: "last_name", Type: "text", Kind: KindText}}},
		{Name: "client", PrimaryKey: []string{"client_id"}, Columns: []*Column{
			{Name: "client_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
			{Name: "country", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Kenya", "Peru"}},
			{Name: "agent_id", Type: "integer", Kind: KindInt}},
			ForeignKeys: []ForeignKey{{Columns: []string{"agent_id"}, RefTable: "agent", RefColumns: []string{"agent_id"}}}},
		{Name: "bill", PrimaryKey: []string{"bill_id"}, Columns: []*Column{
			{Name: "bill_id", Type: "integer", Kind: KindInt}, {Name: "client_id", Type: "integer", Kind: KindInt},
			{Name: "bill_country", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Kenya", "Peru"}},
			{Name: "total", Type: "numeric", Kind: KindNumber}},
			ForeignKeys: []ForeignKey{{Columns: []string{"client_id"}, RefTable: "client", RefColumns: []string{"client_id"}}}},
		{Name: "band", PrimaryKey: []string{"band_id"}, Columns: []*Column{
			{Name: "band_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Kenya"}}}},
	}}
	s.index()
	return s
}

// TestReachValueDoubts: a value of several columns is decided by the table
// the question names, or the table it qualifies, and stays a doubt when
// elsewhere it names a row.
func TestReachValueDoubts(t *testing.T) {
	tr := NewDeterministic()
	for _, c := range []struct {
		q    string
		want string
		conf float64 // at least (or, with atMost, at most)
		most bool
	}{
		{"clients from Peru", `"client"."country" = 'Peru'`, 0.9, false},
		{"bills of clients who are from Peru", `"client"."country" = 'Peru'`, 0.9, false},
		// "Kenya" is also a band's name: another reading.
		{"clients from Kenya", `"client"."country" = 'Kenya'`, 0.8, true},
		// Neither table is named: which country is a guess.
		{"how many from Peru", `'Peru'`, 0.8, true},
	} {
		res, err := tr.Translate(context.Background(), Request{Question: c.q, Schema: billingSchema(Postgres)})
		if err != nil {
			if c.most {
				continue // declined is below any threshold
			}
			t.Fatalf("%q: %v", c.q, err)
		}
		if !strings.Contains(res.SQL, c.want) {
			t.Errorf("%q: SQL lacks %s: %s", c.q, c.want, res.SQL)
		}
		if c.most && res.Confidence >= c.conf || !c.most && res.Confidence < c.conf {
			t.Errorf("%q: confidence %.2f (%s)", c.q, res.Confidence, res.Explanation)
		}
	}
	// A person's full name after its table is that person's name, whatever
	// other tables have a name column.
	b := billingSchema(Postgres)
	for _, q := range []string{"list the clients with the agent's full name", "clients of each agent with the agent's full name"} {
		res, err := tr.Translate(context.Background(), Request{Question: q, Schema: b})
		if err != nil || res.Confidence < 0.9 || !strings.Contains(res.SQL, `("agent"."first_name" || ' ' || "agent"."last_name")`) {
			t.Errorf("%q: %v %+v", q, err, res)
		}
	}
}

// TestReachEachRow: "with each <table>" ending a listing lists that
// table's rows with the named columns of the rows they refer to.
func TestReachEachRow(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "the product name and customer name with each order", want: []string{`FROM "orders" JOIN`, `"products"."name"`, `"customers"."name"`}, minConf: 0.9},
		{schema: "school", q: "the course title and student name for each enrollment", want: []string{`FROM "enrollment" JOIN`, `"course"."title"`, `"student"."name"`}, minConf: 0.9},
		// A teacher has many courses: their titles are no column of a teacher row.
		{schema: "school", q: "the course title for each teacher", decline: true},
	})
}

// TestReachNoIDs: "no IDs" in a listing leaves the keys out.
func TestReachNoIDs(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "list all orders but show no ids", want: []string{`SELECT "orders"."quantity", "orders"."ordered_at" FROM "orders"`}, minConf: 0.9},
		{schema: "school", q: "show the courses without the IDs", want: []string{`SELECT "course"."title", "course"."credits", "course"."subject" FROM "course"`}, minConf: 0.9},
		// A count has no ids to leave out.
		{schema: "school", q: "how many courses without ids", decline: true},
	})
}

// TestReachPersonName: a person table's "name" is the first and last name
// together.
func TestReachPersonName(t *testing.T) {
	b := billingSchema(Postgres)
	tr := NewDeterministic()
	for _, q := range []string{"the bill total and the agent name for all bills", "the bills with the agent name"} {
		res, err := tr.Translate(context.Background(), Request{Question: q, Schema: b})
		if err != nil || !strings.Contains(res.SQL, `("agent"."first_name" || ' ' || "agent"."last_name") AS "agent_name"`) || strings.Contains(res.SQL, `"agent"."last_name" AS`) {
			t.Errorf("%q: %v %+v", q, err, res)
		}
	}
	runReach(t, []reachCase{
		{schema: "staff", q: "the client name and staff name for all clients", want: []string{`"client".*`, `("staff"."first_name" || ' ' || "staff"."last_name") AS "staff_name"`}, minConf: 0.8},
	})
}

// TestReachBothColumns: "both the X and the Y" of two columns shows them.
func TestReachBothColumns(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "show both the name and the price of the products", want: []string{`FROM "products"`}, minConf: 0.9},
		{schema: "school", q: "list both the title and the credits of each course", want: []string{`FROM "course"`}, minConf: 0.9},
		// Two values, not two columns: both rows must exist (declined here).
		{schema: "shop", q: "customers who bought both books and games", decline: true},
	})
}

// TestReachModeAfter: "the X that is most common" is the mode of X.
func TestReachModeAfter(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "the country that is most common across all customers", want: []string{`GROUP BY "customers"."country" ORDER BY "count" DESC LIMIT 1`}, minConf: 0.9},
		{schema: "school", q: "which hometown is the least common across teachers", want: []string{`GROUP BY "teacher"."hometown" ORDER BY "count" ASC LIMIT 1`}, minConf: 0.9},
	})
}

// TestReachListed: "listed" is a display verb.
func TestReachListed(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "how many products are listed", want: []string{`SELECT COUNT("products"."id") AS "products_count" FROM "products"`}, minConf: 0.9},
		{schema: "school", q: "how many courses are listed", want: []string{`FROM "course"`}, minConf: 0.9},
	})
}

// TestReachWeakLinkNamed: a word that resembles a table is no doubt when
// the question also names that table by its own name.
func TestReachWeakLinkNamed(t *testing.T) {
	tr := NewDeterministic()
	for _, c := range []struct {
		q    string
		conf float64
	}{{"in the products table, how many items are there", 1}, {"how many items are there", 0.9}} {
		res, err := tr.Translate(context.Background(), Request{Question: c.q, Schema: shopSchema(Postgres)})
		if err != nil || res.Confidence != c.conf || !strings.Contains(res.SQL, `FROM "products"`) {
			t.Errorf("%q: %v %+v", c.q, err, res)
		}
	}
}

// TestReachSharedBy: the values of a column that rows of each of two
// conditions have.
func TestReachSharedBy(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "school", q: "the hometowns shared by teachers with an age under 30 and over 50", want: []string{
			`SELECT DISTINCT "teacher"."hometown" FROM "teacher" WHERE ("teacher"."hometown" IN (SELECT "teacher"."hometown" FROM "teacher" WHERE ("teacher"."age" < 30.0))) AND ("teacher"."hometown" IN (SELECT "teacher"."hometown" FROM "teacher" WHERE ("teacher"."age" > 50.0)))`}, minConf: 0.9},
		{schema: "shop", q: "the countries shared by customers created before 2020 and after 2024", want: []string{
			`"customers"."country" IN (SELECT "customers"."country" FROM "customers" WHERE ("customers"."created_at" < '2020-01-01'))`, `SELECT DISTINCT "customers"."country"`}, minConf: 0.8},
		// One condition shares nothing with another.
		{schema: "school", q: "the hometowns shared by teachers with an age under 30", decline: true},
	})
}

// TestReachHaveRows: "who have <table>" is EXISTS over the rows that refer
// to each main row; what follows the table is not guessed at.
func TestReachHaveRows(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "customers who have orders", want: []string{`SELECT "customers".* FROM "customers" WHERE EXISTS (SELECT 1 FROM "orders" WHERE ("orders"."customer_id" = "customers"."id"))`}, minConf: 0.9},
		{schema: "school", q: "teachers with any courses", want: []string{`WHERE EXISTS (SELECT 1 FROM "course" WHERE ("course"."teacher_id" = "teacher"."teacher_id"))`}, minConf: 0.9},
		{schema: "school", q: "students that have some enrollment", want: []string{`WHERE EXISTS (SELECT 1 FROM "enrollment" WHERE ("enrollment"."student_id" = "student"."student_id"))`}, minConf: 0.9},
		{schema: "shop", q: "customers who placed orders", want: []string{`WHERE EXISTS (SELECT 1 FROM "orders" WHERE ("orders"."customer_id" = "customers"."id"))`}, minConf: 0.9},
		{schema: "school", q: "teachers who teach courses", want: []string{`WHERE EXISTS (SELECT 1 FROM "course" WHERE ("course"."teacher_id" = "teacher"."teacher_id"))`}, minConf: 0.9},
		{schema: "shop", q: "orders placed by customers from Brazil", want: []string{`("customers"."country" = 'Brazil')`}, minConf: 0.9},
		// "in 2024" could date the orders or the customers.
		{schema: "shop", q: "customers who have orders in 2024", decline: true},
	})
}

// TestReachOrderedByRows: "ordered by <table>" with an orders table says
// who ordered; "ordered by <column>" still sorts.
func TestReachOrderedByRows(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "products that were ordered by customers from Brazil", want: []string{
			`SELECT "products".* FROM "products" WHERE EXISTS (SELECT 1 FROM "orders" JOIN "customers"`, `("customers"."country" = 'Brazil')`}, minConf: 0.9},
		{schema: "shop", q: "products ordered by price", want: []string{`ORDER BY "products"."price"`}, minConf: 0.9},
		// No orders table and no sale: the school's "ordered by" sorts.
		{schema: "school", q: "courses ordered by credits", want: []string{`ORDER BY "course"."credits"`}, minConf: 0.9},
	})
}

// TestReachMostPerValue: the value of a column with the most rows.
func TestReachMostPerValue(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "which category has the most products", want: []string{`GROUP BY "products"."category" ORDER BY "products_count" DESC LIMIT 1`}, minConf: 0.9},
		{schema: "shop", q: "the country with the most customers", want: []string{`GROUP BY "customers"."country" ORDER BY "customers_count" DESC LIMIT 1`}, minConf: 0.9},
		{schema: "school", q: "the subject with the most courses", want: []string{`GROUP BY "course"."subject" ORDER BY "course_count" DESC LIMIT 1`}, minConf: 0.9},
	})
}

// TestReachRanges: NOT BETWEEN, and BETWEEN two years on a date column.
func TestReachRanges(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "products whose price is not between 10 and 20", want: []string{`WHERE (NOT ("products"."price" BETWEEN 10.0 AND 20.0))`}, minConf: 0.9},
		{schema: "school", q: "courses whose credits are not between 2 and 4", want: []string{`WHERE (NOT ("course"."credits" BETWEEN 2.0 AND 4.0))`}, minConf: 0.9},
		{schema: "shop", q: "orders between 2023 and 2024", want: []string{`WHERE (("orders"."ordered_at" >= '2023-01-01') AND ("orders"."ordered_at" < '2025-01-01'))`}, minConf: 0.9},
		{schema: "school", q: "students enrolled between 2020 and 2022", want: []string{`(("student"."enrolled_on" >= '2020-01-01') AND ("student"."enrolled_on" < '2023-01-01'))`}, minConf: 0.8},
		// Two numbers that are no years compare with no date.
		{schema: "shop", q: "orders between 5 and 9000", decline: true},
	})
}

// TestReachValueInside: a value's column named beside it is accounted for
// when the value is compared inside a subquery, and so is a verb whose
// stem names a table only the subquery reads.
func TestReachValueInside(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "customers who ordered products in the books category", want: []string{
			`WHERE EXISTS (SELECT 1 FROM "orders" JOIN "products" ON ("orders"."product_id" = "products"."id") WHERE ("orders"."customer_id" = "customers"."id") AND ("products"."category" = 'books'))`}, minConf: 0.9},
		{schema: "school", q: "students who take courses in the Math subject", want: []string{
			`WHERE EXISTS (SELECT 1 FROM "enrollment" JOIN "course"`, `("course"."subject" = 'Math')`}, minConf: 0.8},
	})
}

// TestReachSharedByYears: two bounds of a year column, one filter of the
// year stage, are the two conditions of "shared by".
func TestReachSharedByYears(t *testing.T) {
	s := &Schema{Dialect: Postgres, Tables: []*Table{{Name: "painter", PrimaryKey: []string{"painter_id"}, Columns: []*Column{
		{Name: "painter_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
		{Name: "nationality", Type: "text", Kind: KindText}, {Name: "birth_year", Type: "integer", Kind: KindInt}}}}}
	s.index()
	res, err := NewDeterministic().Translate(context.Background(), Request{Question: "the nationalities shared by painters with a birth year before 1900 and after 1950", Schema: s})
	want := `SELECT DISTINCT "painter"."nationality" FROM "painter" WHERE ("painter"."nationality" IN (SELECT "painter"."nationality" FROM "painter" WHERE ("painter"."birth_year" < 1900))) AND ("painter"."nationality" IN (SELECT "painter"."nationality" FROM "painter" WHERE ("painter"."birth_year" >= 1951)))`
	if err != nil || res.SQL != want {
		t.Fatalf("%v %+v", err, res)
	}
}

// TestReachTimes: "<verb> more than N times" counts the rows the verb names.
func TestReachTimes(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "products ordered more than 10 times", want: []string{`HAVING (COUNT("orders"."id") > 10.0)`, `GROUP BY "products"."id"`}, minConf: 0.8},
		{schema: "shop", q: "products purchased at least 2 times", want: []string{`HAVING (COUNT("orders"."id") >= 2.0)`}, minConf: 0.8},
		// The school has no table a verb "enrolled" names, and no sales.
		{schema: "school", q: "courses bought more than 3 times", decline: true},
	})
}

// TestReachListAndTop: a measure per group, then which group has the most,
// is every group ranked; one question alone keeps its first row.
func TestReachListAndTop(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "show the number of customers per country. Which country has the most customers?", want: []string{`GROUP BY "customers"."country"`, `DESC`}, minConf: 0.5},
		{schema: "school", q: "show the number of teachers per hometown. Which hometown has the most teachers?", want: []string{`GROUP BY "teacher"."hometown"`, `DESC`}, minConf: 0.5},
		{schema: "school", q: "which hometown has the most teachers", want: []string{`DESC LIMIT 1`}, minConf: 0.9},
	})
	for _, q := range []string{"show the number of customers per country. Which country has the most customers?"} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: q, Schema: shopSchema(Postgres)})
		if err != nil || strings.Contains(res.SQL, "LIMIT") {
			t.Errorf("%q: %v %+v", q, err, res)
		}
	}
}

// TestReachHeadWordOfTable: the first word of the listed table's name, as
// the name writes it, stands for its rows when no other table begins with
// it.
func TestReachHeadWordOfTable(t *testing.T) {
	mk := func(a, b, col string) *Schema {
		s := &Schema{Dialect: Postgres, Tables: []*Table{
			{Name: a, PrimaryKey: []string{"id"}, Columns: []*Column{{Name: "id", Type: "integer", Kind: KindInt}, {Name: col, Type: "integer", Kind: KindInt}}},
			{Name: b, PrimaryKey: []string{"id"}, Columns: []*Column{{Name: "id", Type: "integer", Kind: KindInt}, {Name: "label", Type: "text", Kind: KindText}}},
		}}
		s.index()
		return s
	}
	tr := NewDeterministic()
	for _, c := range []struct {
		s       *Schema
		q, want string
	}{
		{mk("cars_data", "car_names", "cylinders"), "how many cars have more than 4 cylinders", `FROM "cars_data" WHERE ("cars_data"."cylinders" > 4.0)`},
		{mk("ships_log", "ship_owner", "tonnage"), "how many ships have a tonnage above 100", `FROM "ships_log" WHERE ("ships_log"."tonnage" > 100.0)`},
		// "car" names cars_data, whose other word is a generic one, over
		// car_names, whose rows are names (tablehead.go)…
		{mk("cars_data", "car_names", "cylinders"), "how many car have more than 4 cylinders", `FROM "cars_data" WHERE ("cars_data"."cylinders" > 4.0)`},
		// … but of cars_data and cars_info, which is open.
		{mk("cars_data", "cars_info", "cylinders"), "how many car have more than 4 cylinders", ""},
	} {
		res, err := tr.Translate(context.Background(), Request{Question: c.q, Schema: c.s})
		if c.want == "" {
			if err == nil {
				t.Errorf("%q: answered %s", c.q, res.SQL)
			}
			continue
		}
		if err != nil || !strings.Contains(res.SQL, c.want) {
			t.Errorf("%q: %v %+v", c.q, err, res)
		}
	}
}

// TestReachValueLabelOfOneTable: a value of a table's name and of another
// of its columns is the row's name; across two tables it stays a doubt.
func TestReachValueLabelOfOneTable(t *testing.T) {
	mk := func(table string, other *Table) *Schema {
		s := &Schema{Dialect: Postgres, Tables: []*Table{{Name: table, PrimaryKey: []string{"id"}, Columns: []*Column{
			{Name: "id", Type: "integer", Kind: KindInt},
			{Name: "name", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Lima", "Oslo"}},
			{Name: "local_name", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Lima", "Kristiania"}},
			{Name: "size", Type: "integer", Kind: KindInt}}}}}
		if other != nil {
			s.Tables = append(s.Tables, other)
		}
		s.index()
		return s
	}
	tr := NewDeterministic()
	for _, table := range []string{"city", "port"} {
		res, err := tr.Translate(context.Background(), Request{Question: "the size of Lima", Schema: mk(table, nil)})
		if err != nil || res.Confidence < 0.9 || !strings.Contains(res.SQL, `"`+table+`"."name" = 'Lima'`) {
			t.Errorf("%s: %v %+v", table, err, res)
		}
	}
	band := &Table{Name: "band", PrimaryKey: []string{"band_id"}, Columns: []*Column{{Name: "band_id", Type: "integer", Kind: KindInt},
		{Name: "title", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Lima"}}}}
	res, err := tr.Translate(context.Background(), Request{Question: "the size of Lima", Schema: mk("city", band)})
	if err == nil && res.Confidence >= 0.9 {
		t.Errorf("a value of two tables is no doubt: %+v", res)
	}
}

// TestReachFewest: "the fewest" ranks counts as "the most" does, lowest first.
func TestReachFewest(t *testing.T) {
	runReach(t, []reachCase{
		{schema: "shop", q: "the category with the fewest products", want: []string{`GROUP BY "products"."category" ORDER BY "products_count" ASC LIMIT 1`}, minConf: 0.9},
		{schema: "school", q: "which teacher has the fewest courses", want: []string{`GROUP BY "teacher"."teacher_id"`, `ASC LIMIT 1`}, minConf: 0.8},
		// "at least" is a comparison, not a superlative.
		{schema: "shop", q: "customers with at least 2 orders", want: []string{`HAVING (COUNT("orders"."id") >= 2.0)`}, minConf: 0.8},
	})
}
