// Command pgclients measures the memory a Postgres front end (tenantproxy,
// PgBouncer) holds for idle client connections and for one large result.
//
//	pgclients -dsn postgres://u:p@127.0.0.1:16532/db -pid 1234 idle -n 2000
//	pgclients -dsn ... -pid 1234 rows -n 2000000
//	pgclients -dsn ... -pid 1234 -hold 30s idle   # profile the front end meanwhile
//
// idle opens n connections (each authenticated, then left idle), reads the
// process's VmRSS before and after, prints both and closes them. rows reads
// one result of n rows, discarding each as it arrives, while sampling the
// process's VmRSS every 20 ms; it prints the VmRSS before and the peak.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func main() {
	dsn := flag.String("dsn", "", "connection string of the front end to measure")
	pid := flag.Int("pid", 0, "process whose VmRSS is read")
	n := flag.Int("n", 2000, "connections (idle) or rows (rows)")
	hold := flag.Duration("hold", 0, "idle: keep the connections open this long after measuring (to profile the front end meanwhile)")
	flag.Parse()
	if *dsn == "" || *pid == 0 || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: pgclients -dsn DSN -pid PID [-n N] idle|rows")
		os.Exit(2)
	}
	var err error
	switch flag.Arg(0) {
	case "idle":
		err = idle(*dsn, *pid, *n, *hold)
	case "rows":
		err = rows(*dsn, *pid, *n)
	default:
		err = fmt.Errorf("unknown measurement %q", flag.Arg(0))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgclients:", err)
		os.Exit(1)
	}
}

// rssKB reads VmRSS of pid in kB.
func rssKB(pid int) (int, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func idle(dsn string, pid, n int, hold time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	before, err := rssKB(pid)
	if err != nil {
		return err
	}
	conns := make([]*pgconn.PgConn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close(context.Background())
		}
	}()
	for i := 0; i < n; i++ {
		c, err := pgconn.Connect(ctx, dsn)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i+1, err)
		}
		conns = append(conns, c)
	}
	// One round trip on every connection: each is really served, not
	// only accepted.
	for i, c := range conns {
		if _, err := c.Exec(ctx, "SELECT 1").ReadAll(); err != nil {
			return fmt.Errorf("query on connection %d: %w", i+1, err)
		}
	}
	time.Sleep(time.Second) // let the front end settle (GC, freed buffers)
	after, err := rssKB(pid)
	if err != nil {
		return err
	}
	fmt.Printf("idle connections=%d rss_before_kb=%d rss_after_kb=%d delta_kb=%d per_conn_kb=%.1f\n",
		n, before, after, after-before, float64(after-before)/float64(n))
	time.Sleep(hold)
	return nil
}

func rows(dsn string, pid, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	before, err := rssKB(pid)
	if err != nil {
		return err
	}
	peak := before
	done := make(chan struct{})
	sampled := make(chan int)
	go func() {
		p := before
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				sampled <- p
				return
			case <-t.C:
				if v, err := rssKB(pid); err == nil && v > p {
					p = v
				}
			}
		}
	}()
	sql := fmt.Sprintf("SELECT g, md5(g::text) FROM generate_series(1, %d) g", n)
	rr := c.ExecParams(ctx, sql, nil, nil, nil, nil)
	got := 0
	for rr.NextRow() {
		got++
	}
	_, err = rr.Close()
	close(done)
	peak = max(peak, <-sampled)
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("read %d rows, want %d", got, n)
	}
	fmt.Printf("rows=%d rss_before_kb=%d rss_peak_kb=%d delta_kb=%d\n", got, before, peak, peak-before)
	return nil
}
