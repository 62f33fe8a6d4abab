// Command demo prepares the demo of configs/demo.yaml on this machine: it
// makes sure a PostgreSQL and a MariaDB (or MySQL) server answer on their
// usual local ports, starting a throwaway instance in a temporary directory
// where a server is installed but not running, seeds the demo tenants
// (tp_demo_alpha and tp_demo_beta on Postgres, tp_demo_gamma on MySQL), and
// prints command lines that connect through the proxy.
//
//	go run ./cmd/demo seed [--pg-dsn DSN] [--mysql-dsn DSN]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "seed" {
		fmt.Fprintln(os.Stderr, "usage: demo seed [--pg-dsn DSN] [--mysql-dsn DSN]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	pgDSN := fs.String("pg-dsn", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "superuser DSN of the local Postgres")
	myDSN := fs.String("mysql-dsn", "root@tcp(127.0.0.1:3306)/", "superuser DSN of the local MariaDB or MySQL")
	_ = fs.Parse(os.Args[2:])
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var ready []engine
	if ensurePostgres(ctx) {
		if err := seedPostgres(ctx, *pgDSN); err != nil {
			fmt.Fprintln(os.Stderr, "demo: postgres:", err)
			os.Exit(1)
		}
		ready = append(ready, enginePostgres)
	}
	if ensureMySQL(ctx) {
		if err := seedMySQL(ctx, *myDSN); err != nil {
			fmt.Fprintln(os.Stderr, "demo: mysql:", err)
			os.Exit(1)
		}
		ready = append(ready, engineMySQL)
	}
	if len(ready) == 0 {
		fmt.Fprintln(os.Stderr, "demo: neither PostgreSQL nor MariaDB is available")
		os.Exit(1)
	}
	printLines(ready)
}
