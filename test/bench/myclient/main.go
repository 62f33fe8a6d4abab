// Command myclient is the MySQL client of test/bench/compare_mysql.sh: it
// times round trips one by one, holds many idle connections, or streams a
// large result, through any MySQL endpoint (a server, HAProxy, tenantproxy).
//
//	myclient lat  -dsn DSN [-n 20000] [-table sbtest1] [-rows 10000]
//	    prints "p50_us p99_us" of a prepared point select on one connection
//	myclient idle -dsn DSN [-n 2000]
//	    opens n connections (each pinged), prints "ready", holds them until
//	    its standard input closes
//	myclient rows -dsn DSN -query SQL
//	    reads the whole result row by row and prints the row count
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: myclient lat|idle|rows -dsn DSN ...")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dsn := fs.String("dsn", "", "go-sql-driver DSN")
	n := fs.Int("n", 0, "round trips (lat) or connections (idle)")
	table := fs.String("table", "sbtest1", "table of the point select (lat)")
	rows := fs.Int("rows", 10000, "rows of the table (lat)")
	query := fs.String("query", "", "statement whose result is read (rows)")
	_ = fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "lat":
		err = latency(*dsn, max(*n, 1), *table, *rows)
	case "idle":
		err = idle(*dsn, max(*n, 1))
	case "rows":
		err = readRows(*dsn, *query)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "myclient:", err)
		os.Exit(1)
	}
}

// latency times n executions of a prepared point select, one at a time on
// one connection, after a warm-up, and prints their median and 99th
// percentile in microseconds.
func latency(dsn string, n int, table string, rows int) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	st, err := db.Prepare("SELECT c FROM " + table + " WHERE id = ?")
	if err != nil {
		return err
	}
	defer st.Close()
	var c string
	for i := 0; i < 500; i++ {
		if err := st.QueryRow(1 + rand.IntN(rows)).Scan(&c); err != nil {
			return err
		}
	}
	d := make([]time.Duration, n)
	for i := range d {
		id := 1 + rand.IntN(rows)
		t0 := time.Now()
		if err := st.QueryRow(id).Scan(&c); err != nil {
			return err
		}
		d[i] = time.Since(t0)
	}
	slices.Sort(d)
	us := func(q float64) float64 { return float64(d[int(q*float64(n-1))].Nanoseconds()) / 1000 }
	fmt.Printf("%.1f %.1f\n", us(0.50), us(0.99))
	return nil
}

// idle opens n connections, checks each answers, and holds them open until
// standard input closes.
func idle(dsn string, n int) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxIdleConns(n)
	ctx := context.Background()
	conns := make([]*sql.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i+1, err)
		}
		if err := c.PingContext(ctx); err != nil {
			return fmt.Errorf("connection %d: %w", i+1, err)
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		_ = c.Close()
	}
	return nil
}

// readRows streams the result of query and prints how many rows it had.
func readRows(dsn, query string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	rs, err := db.Query(query)
	if err != nil {
		return err
	}
	defer rs.Close()
	var a, b sql.RawBytes
	count := 0
	for rs.Next() {
		if err := rs.Scan(&a, &b); err != nil {
			return err
		}
		count++
	}
	if err := rs.Err(); err != nil {
		return err
	}
	fmt.Println(count)
	return nil
}
