package nlp

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tenantproxy/tenantproxy/nlp/evalset"
)

// TestMongoMatchesPostgres asks the same questions of a small shop in
// Postgres (the control) and of its copy in FerretDB, where some NULLs are
// missing fields instead: every question the pipeline renderer answers
// must give Postgres's rows. NULLs are where SQL and MongoDB part ways
// ($ne keeps them, $group splits missing from null, SUM of nothing).
func TestMongoMatchesPostgres(t *testing.T) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("postgres: %v", err)
	}
	defer admin.Close(ctx)
	mdb := mongoDB(t)
	name := fmt.Sprintf("nlp_mongo_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	pg, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/"+name+"?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	for _, q := range []string{
		`CREATE TABLE customers (id integer PRIMARY KEY, name varchar(40) NOT NULL, country varchar(20), created_at timestamp NOT NULL)`,
		`CREATE TABLE products (id integer PRIMARY KEY, name varchar(40) NOT NULL, price numeric(10,2) NOT NULL, category varchar(20) NOT NULL)`,
		`CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer REFERENCES customers(id), product_id integer NOT NULL REFERENCES products(id),
			quantity integer NOT NULL, ordered_at timestamp NOT NULL)`,
		`INSERT INTO customers VALUES (1,'Ann','Brazil','2019-03-01'),(2,'Bob','Kenya','2021-05-02'),(3,'Cid',NULL,'2018-01-09'),
			(4,'Dee','Brazil','2022-07-07'),(5,'Eve',NULL,'2023-02-02'),(6,'Fay','Germany','2020-12-31'),
			(7,'Gus','Brazil','2017-04-04')`,
		`INSERT INTO products VALUES (1,'Atlas',12.50,'books'),(2,'Chess',30,'games'),(3,'Hammer',9.99,'tools'),(4,'Novel',15,'books')`,
		`INSERT INTO orders VALUES (1,1,1,2,'2024-01-05'),(2,1,2,1,'2024-02-11'),(3,2,3,5,'2023-11-30'),(4,3,1,1,'2024-03-03'),
			(5,NULL,4,3,'2024-04-04'),(6,4,4,1,'2022-09-09'),(7,1,3,4,'2024-05-05'),(8,NULL,2,2,'2021-06-06')`,
	} {
		if _, err := pg.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := evalset.CopyToMongo(ctx, pg, mdb); err != nil {
		t.Fatal(err)
	}
	// Some NULLs become missing fields, as documents written by hand have.
	for _, u := range []struct {
		coll  string
		id    int
		field string
	}{{"customers", 5, "country"}, {"orders", 8, "customer_id"}} {
		if _, err := mdb.Collection(u.coll).UpdateOne(ctx, bson.D{{Key: "_id", Value: u.id}}, bson.D{{Key: "$unset", Value: bson.D{{Key: u.field, Value: ""}}}}); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := Introspect(ctx, pgRunner{pg}, Postgres, RowScope{})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := IntrospectMongo(ctx, mdb, MongoIntrospectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := ms.Table("customers").Column("country"); c.Presence == 1 || !c.Nullable {
		t.Fatalf("customers.country: presence %v nullable %v", c.Presence, c.Nullable)
	}
	questions := append([]string{
		"customers with no country",
		"customers who have a country",
		"how many orders per customer",
		"how many orders per customer country",
		"total quantity per customer country",
		"how many customers per country sorted by country",
		"orders of customers from Brazil",
		"customers who never ordered",
		"customers who ordered books",
		"customers who never ordered a game",
		"how many orders in 2024",
		"how many orders before 2023",
		"total quantity per month in 2024",
		"number of orders per year",
		"the 3 largest orders by quantity",
		"average price of books",
		"the total quantity of orders from Kenya",
		"how many different customers ordered",
		"customers created after 2020",
		"what percentage of customers are not from Brazil",
		"what percentage of customers have no country",
	}, goldenQuestions["shop"]...)
	now := time.Date(2024, 5, 20, 0, 0, 0, 0, time.UTC)
	compared := 0
	for _, q := range questions {
		pt, perr := NewDeterministic().Translate(ctx, Request{Question: q, Schema: ps, Now: now})
		mt, merr := NewDeterministic().Translate(ctx, Request{Question: q, Schema: ms, Now: now})
		if merr != nil || perr != nil {
			t.Logf("%q: not compared (postgres: %v; mongodb: %v)", q, perr, merr)
			continue
		}
		want, err := collect(ctx, pgRunner{pg}, pt.SQL)
		if err != nil {
			t.Fatalf("%q on Postgres: %v\n%s", q, err, pt.SQL)
		}
		got, err := runMongo(ctx, mdb, mt.Mongo)
		js, _ := mt.Mongo.MarshalJSON()
		if err != nil {
			t.Errorf("%q on FerretDB: %v\n%s", q, err, js)
			continue
		}
		compared++
		if !evalset.Match(want, got, len(mt.Mongo.Pipeline) > 0 && hasSort(mt.Mongo)) {
			t.Errorf("%q: rows differ\n sql:      %s\n pipeline: %s\n postgres: %v\n mongodb:  %v", q, pt.SQL, js, want, got)
		}
	}
	if compared < 20 {
		t.Errorf("only %d questions compared", compared)
	}
	t.Logf("%d of %d questions compared", compared, len(questions))
}

func hasSort(q *MongoQuery) bool {
	for _, st := range q.Pipeline {
		if st[0].Key == "$sort" {
			return true
		}
	}
	return false
}
