package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/tenantproxy/tenantproxy/nlp/evalset"
)

// demoSeed is cmd/demo's seed of tenant alpha (prefix Alpha, 200
// customers), with its parameters written in.
var demoSeed = []string{
	`CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text NOT NULL, country text NOT NULL, created_at timestamptz NOT NULL)`,
	`CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL, category text NOT NULL)`,
	`CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id),
	   product_id int NOT NULL REFERENCES products(id), quantity int NOT NULL, ordered_at timestamptz NOT NULL)`,
	`INSERT INTO customers (name, email, country, created_at)
	   SELECT 'Alpha' || ' customer ' || g, lower('Alpha') || '.customer' || g || '@example.com',
	          (ARRAY['Brazil','Germany','India','Japan','Kenya','Canada'])[1 + g % 6], now() - (g || ' days')::interval
	   FROM generate_series(1, 200) g`,
	`INSERT INTO products (name, price, category)
	   SELECT 'Alpha' || ' product ' || g, (g * 7 % 100) + 0.99, (ARRAY['books','games','tools','music'])[1 + g % 4]
	   FROM generate_series(1, 40) g`,
	`INSERT INTO orders (customer_id, product_id, quantity, ordered_at)
	   SELECT 1 + g % 200, 1 + g % 40, 1 + g % 5, now() - (g % 365 || ' days')::interval
	   FROM generate_series(1, 200 * 5) g`,
}

// demoExtra adds customers who never ordered, so that the anti-join's
// answer is not empty (the demo's own seed gives every customer orders).
var demoExtra = []string{
	`INSERT INTO customers (name, email, country, created_at)
	   SELECT 'Alpha new customer ' || g, 'new' || g || '@example.com', 'Kenya', now() FROM generate_series(1, 7) g`,
}

// demoQuestions are everyday questions a new user asks of the demo data,
// with the SQL that answers each.
var demoQuestions = []struct{ q, gold string }{
	{"how many customers per country", "SELECT country, count(*) FROM customers GROUP BY country"},
	{"total revenue per product category", "SELECT p.category, sum(p.price * o.quantity) FROM orders o JOIN products p ON p.id = o.product_id GROUP BY p.category"},
	{"total quantity ordered per product category", "SELECT p.category, sum(o.quantity) FROM orders o JOIN products p ON p.id = o.product_id GROUP BY p.category"},
	{"customers who never ordered", "SELECT * FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)"},
	{"most expensive product", "SELECT * FROM products ORDER BY price DESC LIMIT 1"},
	{"how many orders per customer country", "SELECT c.country, count(*) FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.country"},
	{"how many customers are there", "SELECT count(*) FROM customers"},
	{"list the products in the books category", "SELECT * FROM products WHERE category = 'books'"},
	{"average price of products", "SELECT avg(price) FROM products"},
	{"customers from Brazil", "SELECT * FROM customers WHERE country = 'Brazil'"},
	{"number of orders per product", "SELECT p.id, p.name, count(o.id) FROM products p LEFT JOIN orders o ON o.product_id = p.id GROUP BY p.id, p.name"},
	{"average price per category", "SELECT category, avg(price) FROM products GROUP BY category"},
	{"top 5 products by price", "SELECT * FROM products ORDER BY price DESC LIMIT 5"},
	{"cheapest product", "SELECT * FROM products ORDER BY price ASC LIMIT 1"},
	{"how many orders have a quantity of more than 3", "SELECT count(*) FROM orders WHERE quantity > 3"},
	{"what percentage of customers are from Brazil", "SELECT 100.0 * sum(CASE WHEN country = 'Brazil' THEN 1 ELSE 0 END) / count(*) FROM customers"},
	{"products that were never purchased", "SELECT * FROM products p WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.product_id = p.id)"},
	{"customers who made at least one purchase", "SELECT * FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)"},
	{"customers with more orders than the average", `SELECT c.id, count(o.id) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id
	   HAVING count(o.id) > (SELECT avg(n) FROM (SELECT count(*) AS n FROM orders GROUP BY customer_id) per_customer)`},
	{"which customer made the most in sales", `SELECT c.id, sum(p.price * o.quantity) AS s FROM customers c JOIN orders o ON o.customer_id = c.id
	   JOIN products p ON p.id = o.product_id GROUP BY c.id ORDER BY s DESC LIMIT 1`},
}

// TestNLDemoQuestions asks the demo's everyday questions through the admin
// API: each is answered right or declined with 422, never answered wrong.
func TestNLDemoQuestions(t *testing.T) {
	requirePostgres(t)
	for _, v := range []struct {
		name  string
		extra []string
	}{{"demo seed", nil}, {"demo seed with customers who never ordered", demoExtra}} {
		t.Run(v.name, func(t *testing.T) { demoQuestionsOn(t, v.extra) })
	}
}

func demoQuestionsOn(t *testing.T, extra []string) {
	db := tempPGDatabase(t, "nldemo")
	pgExec(t, db, append(append([]string{}, demoSeed...), extra...)...)
	a := startAPI(t, fmt.Sprintf(`
tenants:
  - {id: demo, engine: postgres, dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"}
users:
  - {name: ann, password: "ann-secret", tenants: {demo: analyst}}
`, db))
	tok := a.login(t, "ann", "ann-secret", "demo")
	ctx := context.Background()
	c, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/"+db+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	right := 0
	for _, dq := range demoQuestions {
		gold := pgRows(t, c, dq.gold)
		r := a.ask(t, tok, dq.q, "cache_enabled", false)
		if r.Status == 422 {
			e := r.JSON(t)["error"].(map[string]any)
			t.Logf("%-48q declined: unmapped %v", dq.q, e["unmapped_words"])
			continue
		}
		if r.Status != 200 {
			t.Errorf("%q: HTTP %d %s", dq.q, r.Status, r.Body)
			continue
		}
		var resp struct {
			SQL        string  `json:"generated_sql"`
			Rows       [][]any `json:"rows"`
			Confidence float64 `json:"confidence"`
		}
		dec := json.NewDecoder(strings.NewReader(string(r.Body)))
		dec.UseNumber()
		if err := dec.Decode(&resp); err != nil {
			t.Fatal(err)
		}
		if !evalset.Match(gold, resp.Rows, false) {
			t.Errorf("%q answered wrong (confidence %.2f): %s\n  %d rows, gold %d", dq.q, resp.Confidence, resp.SQL, len(resp.Rows), len(gold))
			continue
		}
		right++
		line := fmt.Sprint(resp.Rows)
		if len(line) > 100 || os.Getenv("NL_VERBOSE") == "" && len(resp.Rows) > 3 {
			line = fmt.Sprintf("%d rows", len(resp.Rows))
		}
		t.Logf("%-48q right (%.2f): %s -> %s", dq.q, resp.Confidence, resp.SQL, line)
	}
	t.Logf("demo: %d of %d answered right, the others declined", right, len(demoQuestions))
}

// pgRows runs q on c and returns its rows as text.
func pgRows(t testing.TB, c *pgx.Conn, q string) [][]any {
	t.Helper()
	rows, err := c.Query(context.Background(), q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		row := make([]any, len(rows.RawValues()))
		for i, v := range rows.RawValues() {
			if v != nil {
				row[i] = string(v)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
