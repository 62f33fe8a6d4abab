package main

import (
	"context"
	"database/sql"
	"fmt"

	_ "github.com/go-sql-driver/mysql" // the database/sql driver for MariaDB and MySQL
)

// myTenantDB is the MySQL demo tenant's database (tenant gamma).
const myTenantDB = "tp_demo_gamma"

// seedMySQL creates the MySQL demo database anew: customers, products and
// orders like the Postgres tenants', with data of its own.
func seedMySQL(ctx context.Context, dsn string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to MariaDB: %w", err)
	}
	defer conn.Close()
	const n = 150
	for _, q := range []string{
		"DROP DATABASE IF EXISTS " + myTenantDB,
		"CREATE DATABASE " + myTenantDB + " CHARACTER SET utf8mb4",
		"USE " + myTenantDB,
		`CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200) NOT NULL,
		   country VARCHAR(50) NOT NULL, created_at DATETIME NOT NULL)`,
		`CREATE TABLE products (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, price DECIMAL(10,2) NOT NULL,
		   category VARCHAR(50) NOT NULL)`,
		`CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, product_id INT NOT NULL,
		   quantity INT NOT NULL, ordered_at DATETIME NOT NULL,
		   FOREIGN KEY (customer_id) REFERENCES customers(id), FOREIGN KEY (product_id) REFERENCES products(id))`,
		// A recursive CTE generates the rows on MariaDB and MySQL alike.
		fmt.Sprintf(`INSERT INTO customers (name, email, country, created_at)
		   WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < %d)
		   SELECT CONCAT('Gamma customer ', i), CONCAT('gamma.customer', i, '@example.com'),
		          ELT(1 + i %% 6, 'Brazil', 'Germany', 'India', 'Japan', 'Kenya', 'Canada'),
		          NOW() - INTERVAL i DAY FROM g`, n),
		`INSERT INTO products (name, price, category)
		   WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 40)
		   SELECT CONCAT('Gamma product ', i), (i * 7 % 100) + 0.99, ELT(1 + i % 4, 'books', 'games', 'tools', 'music') FROM g`,
		fmt.Sprintf(`INSERT INTO orders (customer_id, product_id, quantity, ordered_at)
		   WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < %d)
		   SELECT 1 + i %% %d, 1 + i %% 40, 1 + i %% 5, NOW() - INTERVAL (i %% 365) DAY FROM g`, n*5, n),
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("seed %s: %w", myTenantDB, err)
		}
	}
	fmt.Printf("seeded %s: %d customers, 40 products, %d orders\n", myTenantDB, n, n*5)
	return nil
}
