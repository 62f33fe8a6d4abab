package nlp

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The inferred keys of two schemas made for the test (a shop and a
// school), on Postgres and MariaDB: what the names, kinds and values say,
// and the near misses that must not become keys.

const inferShopDDL = `CREATE TABLE vendors (vendor_id integer PRIMARY KEY, name varchar(40));
CREATE TABLE categories (code varchar(10) PRIMARY KEY, label varchar(40));
CREATE TABLE warehouses (warehouse_id integer PRIMARY KEY, city varchar(40));
CREATE TABLE suppliers (supplier_id integer PRIMARY KEY, name varchar(40));
CREATE TABLE shipments (id integer PRIMARY KEY, note varchar(40));
CREATE TABLE models (model_id integer PRIMARY KEY, model varchar(20) UNIQUE);
CREATE TABLE regions (region_id integer PRIMARY KEY, name varchar(20));
CREATE TABLE sales_regions (region_id integer PRIMARY KEY, name varchar(20));
CREATE TABLE items (item_id integer PRIMARY KEY, vendor integer, category_code varchar(10), warehouse varchar(10),
  supplier integer, id integer, model varchar(20), region integer, title varchar(40));
CREATE TABLE reviews (review_id integer PRIMARY KEY, item_id integer REFERENCES items (item_id), item integer, stars integer);
CREATE TABLE teams (team_id integer PRIMARY KEY, tenant varchar(5), name varchar(20));
CREATE TABLE players (player_id integer PRIMARY KEY, tenant varchar(5), team integer)`

const inferSchoolDDL = `CREATE TABLE departments (dept_code varchar(8) PRIMARY KEY, title varchar(40));
CREATE TABLE teachers (teacher_id integer PRIMARY KEY, name varchar(40), department varchar(8));
CREATE TABLE rooms (room_no integer PRIMARY KEY, floor integer);
CREATE TABLE levels (level_id integer PRIMARY KEY, name varchar(10));
CREATE TABLE lockers (locker_id integer PRIMARY KEY, place varchar(10));
CREATE TABLE classes (class_id integer PRIMARY KEY, teacherid integer, room integer, level integer);
CREATE TABLE students (student_id integer PRIMARY KEY, name varchar(40), locker integer);
CREATE TABLE enrolments (student_id integer, class_id integer, grade integer, PRIMARY KEY (student_id, class_id))`

// inferShopRows fills the shop: 40 items whose vendor is one of five but
// once a vendor that does not exist (97.5% held); a warehouse written as
// text; suppliers that mostly do not exist; ids that happen to be
// shipments' ids; a region that both region tables hold.
func inferShopRows() []string {
	out := []string{
		"INSERT INTO vendors VALUES (1,'Acme'),(2,'Globex'),(3,'Initech'),(4,'Umbrella'),(5,'Hooli')",
		"INSERT INTO categories VALUES ('TOY','Toys'),('BOOK','Books'),('FOOD','Food'),('GARD','Garden')",
		"INSERT INTO warehouses VALUES (1,'Oslo'),(2,'Lima'),(3,'Pune')",
		"INSERT INTO suppliers VALUES (1,'North'),(2,'South')",
		"INSERT INTO models VALUES (1,'alpha'),(2,'beta'),(3,'gamma'),(4,'delta')",
		"INSERT INTO regions VALUES (1,'east'),(2,'west'),(3,'north'),(4,'south')",
		"INSERT INTO sales_regions VALUES (1,'east'),(2,'west'),(3,'north'),(4,'south')",
		"INSERT INTO teams VALUES (1,'a','Ants'),(2,'a','Bees'),(3,'a','Cats'),(4,'a','Dogs'),(5,'b','Eels'),(6,'b','Fox'),(7,'b','Gnus'),(8,'b','Hens')",
	}
	cats := []string{"TOY", "BOOK", "FOOD", "GARD"}
	models := []string{"alpha", "beta", "gamma", "delta"}
	shipments := []string{}
	for i := 1; i <= 40; i++ {
		vendor := 1 + i%5
		if i == 7 {
			vendor = 99
		}
		supplier := 10 + i%7 // 1 and 2 exist; these do not
		if i <= 3 {
			supplier = 1
		}
		out = append(out, fmt.Sprintf("INSERT INTO items VALUES (%d, %d, '%s', '%d', %d, %d, '%s', %d, 'item %d')",
			i, vendor, cats[i%4], 1+i%3, supplier, 100+i, models[i%4], 1+i%4, i))
		shipments = append(shipments, fmt.Sprintf("(%d,'s')", 100+i))
		out = append(out, fmt.Sprintf("INSERT INTO reviews VALUES (%d, %d, %d, %d)", i, i, i, 1+i%5))
		// Every player refers to one of tenant b's teams.
		tenant := "a"
		if i%2 == 0 {
			tenant = "b"
		}
		out = append(out, fmt.Sprintf("INSERT INTO players VALUES (%d, '%s', %d)", i, tenant, 5+(i/2)%4))
	}
	out = append(out, "INSERT INTO shipments VALUES "+strings.Join(shipments, ","))
	return out
}

// inferSchoolRows fills the school: levels hold 3 of the 9 levels classes
// use; students use two lockers only.
func inferSchoolRows() []string {
	out := []string{
		"INSERT INTO departments VALUES ('MATH','Mathematics'),('ART','Art'),('BIO','Biology'),('HIST','History')",
		"INSERT INTO rooms VALUES (101,1),(102,1),(201,2),(202,2)",
		"INSERT INTO levels VALUES (1,'one'),(2,'two'),(3,'three')",
		"INSERT INTO lockers VALUES (1,'hall'),(2,'hall'),(3,'gym')",
	}
	depts := []string{"MATH", "ART", "BIO", "HIST"}
	rooms := []int{101, 102, 201, 202}
	for i := 1; i <= 8; i++ {
		out = append(out, fmt.Sprintf("INSERT INTO teachers VALUES (%d, 'teacher %d', '%s')", i, i, depts[i%4]))
	}
	for i := 1; i <= 20; i++ {
		out = append(out, fmt.Sprintf("INSERT INTO classes VALUES (%d, %d, %d, %d)", i, 1+i%8, rooms[i%4], 1+i%9))
		out = append(out, fmt.Sprintf("INSERT INTO students VALUES (%d, 'student %d', %d)", i, i, 1+i%2))
	}
	for i := 1; i <= 20; i++ {
		for _, c := range []int{i, 1 + (i+3)%20} {
			out = append(out, fmt.Sprintf("INSERT INTO enrolments VALUES (%d, %d, %d)", i, c, 50+i))
		}
	}
	return out
}

// scratchDB creates database name on the engine, runs stmts in it and
// returns a runner on it; the database is dropped when the test ends.
func scratchDB(t *testing.T, d Dialect, name string, stmts []string) Runner {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if d == Postgres {
		admin, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
		if err != nil {
			t.Skipf("postgres not reachable: %v", err)
		}
		defer admin.Close(context.Background())
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		c, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/"+name+"?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = c.Close(context.Background())
			a, err := pgx.Connect(context.Background(), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
			if err == nil {
				_, _ = a.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name)
				_ = a.Close(context.Background())
			}
		})
		for _, s := range stmts {
			if _, err := c.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		return pgRunner{c}
	}
	admin, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/")
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err != nil {
		t.Skipf("mariadb not reachable: %v", err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/"+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = db.Close()
		if a, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/"); err == nil {
			_, _ = a.Exec("DROP DATABASE IF EXISTS " + name)
			_ = a.Close()
		}
	})
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return myRunner{db}
}

func splitDDL(ddl string) []string {
	var out []string
	for _, s := range strings.Split(ddl, ";\n") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// inferredKeys lists s's inferred keys as "table.col -> ref.col", sorted
// and lower-cased.
func inferredKeys(s *Schema) []string {
	var out []string
	for _, t := range s.Tables {
		for _, fk := range t.ForeignKeys {
			if fk.Inferred {
				out = append(out, strings.ToLower(fmt.Sprintf("%s.%s -> %s.%s", t.Name, strings.Join(fk.Columns, ","), fk.RefTable, strings.Join(fk.RefColumns, ","))))
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestInferKeysLive(t *testing.T) {
	prefix := fmt.Sprintf("nlkeys_infer_%d", os.Getpid())
	for _, d := range []Dialect{Postgres, MySQL} {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			shop := scratchDB(t, d, prefix+"_shop", append(splitDDL(inferShopDDL), inferShopRows()...))
			school := scratchDB(t, d, prefix+"_school", append(splitDDL(inferSchoolDDL), inferSchoolRows()...))

			s, err := Introspect(ctx, shop, d, RowScope{})
			if err != nil {
				t.Fatal(err)
			}
			// Not: items.warehouse (text against an integer key),
			// items.supplier (most values absent), items.id (a bare "id"
			// names no table), items.region (two region tables fit),
			// reviews.item (reviews declares its key to items).
			want := []string{
				"items.category_code -> categories.code",
				"items.model -> models.model",
				"items.vendor -> vendors.vendor_id",
				"players.team -> teams.team_id",
			}
			if got := inferredKeys(s); strings.Join(got, "; ") != strings.Join(want, "; ") {
				t.Errorf("shop: inferred\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			js, _ := json.Marshal(s.Table("items"))
			if !strings.Contains(string(js), `"inferred":true`) {
				t.Errorf("schema JSON does not mark the inferred key: %s", js)
			}
			if fks := s.Table("reviews").ForeignKeys; len(fks) != 1 || fks[0].Inferred {
				t.Errorf("reviews: keys %+v, want the declared one only", fks)
			}

			// A row tenant's check reads its own rows only: tenant a's
			// players refer to tenant b's teams.
			for tenant, want := range map[string]bool{"a": false, "b": true} {
				s, err := Introspect(ctx, shop, d, RowScope{Column: "tenant", Value: tenant})
				if err != nil {
					t.Fatal(err)
				}
				got := false
				for _, k := range inferredKeys(s) {
					got = got || k == "players.team -> teams.team_id"
				}
				if got != want {
					t.Errorf("row tenant %s: players.team inferred %v, want %v", tenant, got, want)
				}
			}

			s, err = Introspect(ctx, school, d, RowScope{})
			if err != nil {
				t.Fatal(err)
			}
			// Not: classes.level (levels holds a third of the values),
			// students.locker (two distinct values say too little).
			want = []string{
				"classes.room -> rooms.room_no",
				"classes.teacherid -> teachers.teacher_id",
				"enrolments.class_id -> classes.class_id",
				"enrolments.student_id -> students.student_id",
				"teachers.department -> departments.dept_code",
			}
			if got := inferredKeys(s); strings.Join(got, "; ") != strings.Join(want, "; ") {
				t.Errorf("school: inferred\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

// stallRunner answers the catalog statements of a small schema and lets
// every value check hang until its context ends.
type stallRunner struct{ checks *int }

func (r stallRunner) RunCatalog(ctx context.Context, q string, fn func([]any) error) error {
	switch {
	case strings.Contains(q, "LEFT JOIN") && strings.Contains(q, "COUNT(DISTINCT s.v)"):
		*r.checks++
		<-ctx.Done()
		return ctx.Err()
	case strings.Contains(q, "pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0") || strings.Contains(q, "format_type"):
		for _, row := range [][]any{
			{"vendors", "vendor_id", "integer", false, json.Number("5"), false},
			{"vendors", "name", "text", true, json.Number("5"), false},
			{"items", "item_id", "integer", false, json.Number("40"), false},
			{"items", "vendor", "integer", true, json.Number("40"), false},
		} {
			if err := fn(row); err != nil {
				return err
			}
		}
	case strings.Contains(q, "con.contype"):
		for _, row := range [][]any{{"vendors_pkey", "p", "vendors", "", "vendor_id", ""}, {"items_pkey", "p", "items", "", "item_id", ""}} {
			if err := fn(row); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestInferKeysBounded: a value check that does not return is abandoned
// after its timeout, infers nothing, and the schema is still read.
func TestInferKeysBounded(t *testing.T) {
	old := inferCheckTimeout
	inferCheckTimeout = 50 * time.Millisecond
	defer func() { inferCheckTimeout = old }()
	checks := 0
	start := time.Now()
	s, err := Introspect(context.Background(), stallRunner{&checks}, Postgres, RowScope{})
	if err != nil {
		t.Fatal(err)
	}
	if checks != 1 {
		t.Errorf("%d value checks, want 1 (items.vendor)", checks)
	}
	if k := inferredKeys(s); len(k) != 0 {
		t.Errorf("a check that timed out inferred %v", k)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("introspection took %v", el)
	}
	// The caller's own deadline is an error, not a schema without keys.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	inferCheckTimeout = time.Minute
	if _, err := Introspect(ctx, stallRunner{&checks}, Postgres, RowScope{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("introspection past the caller's deadline: %v", err)
	}
}

// withInferred returns schema s whose foreign keys are all marked
// inferred, as introspection leaves undeclared relations.
func withInferred(s *Schema) *Schema {
	for _, t := range s.Tables {
		for i := range t.ForeignKeys {
			t.ForeignKeys[i].Inferred = true
		}
	}
	return s
}

// outletSchema relates sales to regions twice: through the store (declared
// keys) and directly (an inferred key).
func outletSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "regions", PrimaryKey: []string{"region_id"}, Columns: []*Column{
			{Name: "region_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText}}},
		{Name: "stores", PrimaryKey: []string{"store_id"}, Columns: []*Column{
			{Name: "store_id", Type: "integer", Kind: KindInt}, {Name: "city", Type: "text", Kind: KindText},
			{Name: "region_id", Type: "integer", Kind: KindInt}},
			ForeignKeys: []ForeignKey{{Columns: []string{"region_id"}, RefTable: "regions", RefColumns: []string{"region_id"}}}},
		{Name: "sales", PrimaryKey: []string{"sale_id"}, Columns: []*Column{
			{Name: "sale_id", Type: "integer", Kind: KindInt}, {Name: "store_id", Type: "integer", Kind: KindInt},
			{Name: "booked_region", Type: "integer", Kind: KindInt}, {Name: "amount", Type: "numeric", Kind: KindNumber}},
			ForeignKeys: []ForeignKey{{Columns: []string{"store_id"}, RefTable: "stores", RefColumns: []string{"store_id"}},
				{Columns: []string{"booked_region"}, RefTable: "regions", RefColumns: []string{"region_id"}, Inferred: true}}},
	}}
	s.index()
	return s
}

// TestInferredJoins: a join along an inferred key is the join a declared
// key gives, less sure by penInferredKey per key; declared keys win where
// both reach; without a key the question is declined.
func TestInferredJoins(t *testing.T) {
	tr := NewDeterministic()
	ask := func(s *Schema, q string) (*Translation, error) {
		return tr.Translate(context.Background(), Request{Question: q, Schema: s})
	}
	for _, c := range []struct {
		schema func(Dialect) *Schema
		q      string
		keys   int
	}{
		{shopSchema, "how many orders per customer country", 1},
		{shopSchema, "total revenue per product category", 1},
		{schoolSchema, "total credits per teacher hometown", 1},
		{schoolSchema, "students who take both Math and Art courses", 2},
	} {
		for _, d := range []Dialect{Postgres, MySQL} {
			declared, err := ask(c.schema(d), c.q)
			if err != nil {
				t.Fatalf("%q: %v", c.q, err)
			}
			inferred, err := ask(withInferred(c.schema(d)), c.q)
			if err != nil {
				t.Errorf("%s %q along inferred keys: %v", d, c.q, err)
				continue
			}
			if inferred.SQL != declared.SQL {
				t.Errorf("%s %q: along inferred keys\n  %s\nalong declared ones\n  %s", d, c.q, inferred.SQL, declared.SQL)
			}
			want := math.Round((declared.Confidence-penInferredKey*float64(c.keys))*100) / 100
			if inferred.Confidence != want {
				t.Errorf("%s %q: confidence %.2f, want %.2f (%s)", d, c.q, inferred.Confidence, want, inferred.Explanation)
			}
			if c.keys == 1 && inferred.Confidence < AnswerThreshold {
				t.Errorf("%s %q: one inferred join puts an otherwise certain answer under the threshold", d, c.q)
			}
			if !strings.Contains(inferred.Explanation, "which the schema does not declare") {
				t.Errorf("%s %q: the explanation does not name the inferred key: %s", d, c.q, inferred.Explanation)
			}
		}
	}

	// Declared keys win: the sales of a region are those of its stores.
	res, err := ask(outletSchema(Postgres), "total amount of sales per region name")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.SQL, `("sales"."store_id" = "stores"."store_id")`) || strings.Contains(res.SQL, `"booked_region" =`) {
		t.Errorf("the join does not follow the declared keys: %s", res.SQL)
	}
	if res.Confidence != 1 {
		t.Errorf("declared joins lost confidence: %.2f (%s)", res.Confidence, res.Explanation)
	}

	// Without a declared or an inferred key, no join.
	for _, s := range []*Schema{shopSchema(Postgres), schoolSchema(Postgres)} {
		for _, tb := range s.Tables {
			tb.ForeignKeys = nil
		}
		q := map[string]string{"customers": "how many orders per customer country", "teacher": "total credits per teacher hometown"}[s.Tables[0].Name]
		_, err := ask(s, q)
		var u *Unanswerable
		if !errors.As(err, &u) || !strings.Contains(u.Reason, "no foreign-key path") {
			t.Errorf("%q without keys: want a refusal for want of a join, got %v", q, err)
		}
	}
}
