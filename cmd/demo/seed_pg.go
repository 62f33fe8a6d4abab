package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// pgTenants are the Postgres demo tenants and a seed that makes their data
// differ.
var pgTenants = []struct {
	db     string
	prefix string
	n      int
}{
	{"tp_demo_alpha", "Alpha", 200},
	{"tp_demo_beta", "Beta", 120},
}

// seedPostgres creates the Postgres demo databases anew.
func seedPostgres(ctx context.Context, dsn string) error {
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to Postgres: %w", err)
	}
	defer admin.Close(ctx)
	for _, t := range pgTenants {
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+t.db+" WITH (FORCE)"); err != nil {
			return err
		}
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+t.db); err != nil {
			return err
		}
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return err
		}
		cfg.Database = t.db
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		for _, q := range []string{
			`CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text NOT NULL, country text NOT NULL, created_at timestamptz NOT NULL)`,
			`CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL, category text NOT NULL)`,
			`CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id),
			   product_id int NOT NULL REFERENCES products(id), quantity int NOT NULL, ordered_at timestamptz NOT NULL)`,
			`INSERT INTO customers (name, email, country, created_at)
			   SELECT $1 || ' customer ' || g, lower($1) || '.customer' || g || '@example.com',
			          (ARRAY['Brazil','Germany','India','Japan','Kenya','Canada'])[1 + g % 6],
			          now() - (g || ' days')::interval
			   FROM generate_series(1, $2::int) g`,
			`INSERT INTO products (name, price, category)
			   SELECT $1 || ' product ' || g, (g * 7 % 100) + 0.99, (ARRAY['books','games','tools','music'])[1 + g % 4]
			   FROM generate_series(1, 40 + 0 * $2::int) g`,
			`INSERT INTO orders (customer_id, product_id, quantity, ordered_at)
			   SELECT 1 + g % $2::int, 1 + g % 40, 1 + g % 5, now() - (g % 365 || ' days')::interval
			   FROM generate_series(1, $2::int * 5 + 0 * length($1)) g`,
		} {
			if !strings.Contains(q, "$1") {
				_, err = c.Exec(ctx, q)
			} else {
				_, err = c.Exec(ctx, q, t.prefix, t.n)
			}
			if err != nil {
				break
			}
		}
		_ = c.Close(ctx)
		if err != nil {
			return fmt.Errorf("seed %s: %w", t.db, err)
		}
		fmt.Printf("seeded %s: %d customers, 40 products, %d orders\n", t.db, t.n, t.n*5)
	}
	return nil
}
