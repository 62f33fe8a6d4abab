package test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// privateRedis is a redis-server of the test's own, on a free port, so that
// stopping it touches no other test.
type privateRedis struct {
	addr string
	cmd  *exec.Cmd
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
	_ = bin
	r := &privateRedis{addr: freeAddr(t)}
	r.start(t)
	t.Cleanup(r.stop)
	return r
}

func (r *privateRedis) start(t *testing.T) {
	t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	r.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", r.addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *privateRedis) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// roundRobin is a TCP load balancer that hands each new connection to the
// next target in turn.
type roundRobin struct {
	ln      net.Listener
	targets []string
	next    atomic.Uint64
}

func newRoundRobin(t *testing.T, targets ...string) *roundRobin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rr := &roundRobin{ln: ln, targets: targets}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			target := rr.targets[rr.next.Add(1)%uint64(len(rr.targets))]
			go func() {
				defer c.Close()
				b, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer b.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(b, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, b); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return rr
}

func (rr *roundRobin) addr() string { return rr.ln.Addr().String() }

// fleet is three proxy processes on one Redis.
type fleetFixture struct {
	redis   *privateRedis
	proxies []*proxyProcess
	pgLB    *roundRobin
	myLB    *roundRobin
	pdb     string
	mdb     string
	calm    string
}

const fleetUsers = `
users:
  - {name: ops, password: ops-pw, operator: true, tenants: {shop: admin, calm: admin, myshop: admin}}
  - {name: app, password: app-pw, tenants: {shop: analyst, calm: analyst, myshop: analyst}}
`

func newFleet(t *testing.T) *fleetFixture {
	t.Helper()
	requirePostgres(t)
	requireMySQL(t)
	f := &fleetFixture{redis: startPrivateRedis(t)}

	f.pdb = tempPGDatabase(t, "fleet")
	pgExec(t, f.pdb, "CREATE TABLE items (id int PRIMARY KEY, name text)", "INSERT INTO items SELECT g, 'item '||g FROM generate_series(1, 10) g")
	calm := tempPGDatabase(t, "fleetcalm")
	f.calm = calm
	pgExec(t, calm, "CREATE TABLE items (id int PRIMARY KEY, name text)", "INSERT INTO items SELECT g, 'item '||g FROM generate_series(1, 10) g")
	mdb := tempMyDatabase(t, "fleet")
	f.mdb = mdb
	myExec(t, mdb, "CREATE TABLE items (id int PRIMARY KEY, name varchar(20))", "INSERT INTO items VALUES (1,'a'),(2,'b')")
	users := fleetUsers
	for i := 0; i < 3; i++ {
		yaml := fmt.Sprintf(`auth: {jwt_secret: "fleet-test-secret-0123456789"}
redis: {addr: %q}
fleet: {enabled: true, peer_listen: %q, secret: "fleet-peer-secret-0123456789", heartbeat: 200ms, lease_ttl: 1s}
tenants:
  - id: shop
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
    limits: {max_client_connections: 4, qps: 40, burst: 40}
  - id: calm
    engine: postgres
    dsn: "postgres://postgres@127.0.0.1:5432/%s?sslmode=disable"
    pool: {size: 4, cluster_max: 3, timeout: 20s}
  - id: myshop
    engine: mysql
    dsn: "root@tcp(127.0.0.1:3306)/%s"
%s`, f.redis.addr, freeAddr(t), f.pdb, calm, mdb, users)
		f.proxies = append(f.proxies, startProxyProcess(t, yaml, true))
	}
	var pgs, mys []string
	for _, p := range f.proxies {
		pgs, mys = append(pgs, p.pgAddr), append(mys, p.myAddr)
	}
	f.pgLB, f.myLB = newRoundRobin(t, pgs...), newRoundRobin(t, mys...)
	f.waitMembers(t, f.proxies[0], 3)
	return f
}

func (f *fleetFixture) token(t *testing.T, p *proxyProcess, user, pw, tenant string) string {
	t.Helper()
	var out map[string]any
	code := httpJSON(t, "POST", "http://"+p.adminAddr+"/api/v1/auth/login", "", map[string]any{"username": user, "password": pw, "tenant_id": tenant}, &out)
	if code != 200 {
		t.Fatalf("login: HTTP %d %v", code, out)
	}
	return out["access_token"].(string)
}

func httpJSON(t *testing.T, method, url, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(raw, out)
	}
	return resp.StatusCode
}

func (f *fleetFixture) waitMembers(t *testing.T, p *proxyProcess, n int) {
	t.Helper()
	tok := f.token(t, p, "ops", "ops-pw", "shop")
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st struct {
			Members []map[string]any `json:"members"`
			Redis   string           `json:"redis"`
		}
		code := httpJSON(t, "GET", "http://"+p.adminAddr+"/api/v1/admin/fleet", tok, nil, &st)
		if code == 200 && len(st.Members) == n && st.Redis == "ok" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleet: HTTP %d, %d members (want %d), redis %q\n%s", code, len(st.Members), n, st.Redis, p.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFleet runs three proxies on one Redis behind a round-robin balancer.
func TestFleet(t *testing.T) {
	f := newFleet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lbURL := func(user, pw, tenant string) string {
		return fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", user, pw, f.pgLB.addr(), tenant)
	}

	t.Run("membership", func(t *testing.T) {
		f.waitMembers(t, f.proxies[1], 3)
		tok := f.token(t, f.proxies[1], "ops", "ops-pw", "shop")
		var st struct {
			Members []struct {
				ID            string `json:"id"`
				ConfigHash    string `json:"config_hash"`
				ConfigDiffers bool   `json:"config_differs"`
				PeerAddr      string `json:"peer_addr"`
			} `json:"members"`
			ConfigMismatch bool `json:"config_mismatch"`
		}
		if code := httpJSON(t, "GET", "http://"+f.proxies[1].adminAddr+"/api/v1/admin/fleet", tok, nil, &st); code != 200 {
			t.Fatalf("HTTP %d", code)
		}
		if len(st.Members) != 3 || st.ConfigMismatch {
			t.Fatalf("members %+v mismatch %v", st.Members, st.ConfigMismatch)
		}
		ids := map[string]bool{}
		for _, m := range st.Members {
			ids[m.ID] = true
			if m.ConfigHash == "" || m.ConfigDiffers || m.PeerAddr == "" {
				t.Errorf("member %+v", m)
			}
		}
		if len(ids) != 3 {
			t.Errorf("member ids %v", ids)
		}
		app := f.token(t, f.proxies[1], "app", "app-pw", "shop")
		if code := httpJSON(t, "GET", "http://"+f.proxies[1].adminAddr+"/api/v1/admin/fleet", app, nil, nil); code != 403 {
			t.Errorf("fleet status for a tenant analyst: HTTP %d, want 403", code)
		}
	})

	t.Run("connection limit across the fleet", func(t *testing.T) {
		var open []*pgx.Conn
		defer func() {
			for _, c := range open {
				_ = c.Close(ctx)
			}
		}()
		refused := 0
		for i := 0; i < 7; i++ {
			c, err := pgx.Connect(ctx, lbURL("app", "app-pw", "shop"))
			if err != nil {
				if pgCode(err) != "53300" {
					t.Fatalf("connect %d: %v", i, err)
				}
				refused++
				continue
			}
			open = append(open, c)
		}
		if len(open) != 4 || refused != 3 {
			t.Fatalf("%d connections admitted, %d refused; want 4 and 3 (limit 4 across 3 proxies)", len(open), refused)
		}
		t.Logf("max_client_connections 4 across 3 proxies: %d admitted, %d refused with 53300", len(open), refused)
	})

	t.Run("statement rate across the fleet", func(t *testing.T) {
		var conns []*pgx.Conn
		for i := 0; i < 3; i++ {
			c, err := pgx.Connect(ctx, lbURL("app", "app-pw", "shop"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			conns = append(conns, c)
		}
		// Let the shares settle on the demand of this load first.
		run := func(d time.Duration) (ok, limited int64) {
			var wg sync.WaitGroup
			end := time.Now().Add(d)
			for _, c := range conns {
				wg.Add(1)
				go func(c *pgx.Conn) {
					defer wg.Done()
					for time.Now().Before(end) {
						_, err := c.Exec(ctx, "SELECT 1", pgx.QueryExecModeSimpleProtocol)
						switch {
						case err == nil:
							atomic.AddInt64(&ok, 1)
						case pgCode(err) == "53400":
							atomic.AddInt64(&limited, 1)
						default:
							t.Errorf("statement: %v", err)
							return
						}
						time.Sleep(2 * time.Millisecond)
					}
				}(c)
			}
			wg.Wait()
			return
		}
		run(time.Second)
		const secs = 4
		ok, limited := run(secs * time.Second)
		rate := float64(ok) / secs
		t.Logf("qps 40 across 3 proxies: %.1f statements/s admitted (%d refused with 53400); one proxy alone would admit 40, three without the fleet 120", rate, limited)
		if limited == 0 || rate > 40*1.3 || rate < 40*0.6 {
			t.Fatalf("admitted %.1f statements/s (limit 40 across the fleet, tolerance -40%%/+30%%), %d refused", rate, limited)
		}
	})

	t.Run("backend connections capped across the fleet", func(t *testing.T) {
		// 9 clients, 3 per proxy, each running 0.3 s statements: with
		// pool.cluster_max 3 the backend never runs more than 3 at once.
		time.Sleep(time.Second) // a few heartbeats: every member has seen the others
		var wg sync.WaitGroup
		var peak atomic.Int64
		stop := make(chan struct{})
		go func() {
			mon, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/postgres?", 1))
			if err != nil {
				return
			}
			defer mon.Close(ctx)
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int64
				_ = mon.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'active'", f.calm).Scan(&n)
				if n > peak.Load() {
					peak.Store(n)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		for _, p := range f.proxies {
			for i := 0; i < 3; i++ {
				wg.Add(1)
				go func(p *proxyProcess) {
					defer wg.Done()
					c, err := pgx.Connect(ctx, p.url("ops", "ops-pw", "calm"))
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Close(ctx)
					for j := 0; j < 4; j++ {
						if _, err := c.Exec(ctx, "SELECT pg_sleep(0.3)"); err != nil {
							t.Error(err)
							return
						}
					}
				}(p)
			}
		}
		wg.Wait()
		close(stop)
		t.Logf("pool.cluster_max 3 over 3 proxies (pool size 4 each): at most %d backend statements at once", peak.Load())
		if peak.Load() > 3 || peak.Load() == 0 {
			t.Fatalf("%d backend statements ran at once, want at most 3", peak.Load())
		}
	})

	t.Run("cancel through another proxy", func(t *testing.T) {
		c, err := pgconn.Connect(ctx, f.proxies[0].url("ops", "ops-pw", "calm"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		pid, secret := c.PID(), c.SecretKey()
		errc := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := c.Exec(ctx, "SELECT pg_sleep(20)").ReadAll()
			errc <- err
		}()
		time.Sleep(300 * time.Millisecond)
		// The CancelRequest arrives at proxy 2, as a balancer may send it.
		nc, err := net.Dial("tcp", f.proxies[1].pgAddr)
		if err != nil {
			t.Fatal(err)
		}
		fe := pgproto3.NewFrontend(nc, nc)
		fe.Send(&pgproto3.CancelRequest{ProcessID: pid, SecretKey: secret})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		nc.Close()
		select {
		case err := <-errc:
			if pgCode(err) != "57014" {
				t.Fatalf("pg_sleep ended with %v, want 57014", err)
			}
			t.Logf("pg_sleep on proxy 1 cancelled through proxy 2 after %s", time.Since(start).Round(time.Millisecond))
		case <-time.After(10 * time.Second):
			t.Fatal("the cancel request sent to another proxy cancelled nothing")
		}
	})

	t.Run("KILL QUERY through another proxy", func(t *testing.T) {
		dsn := func(p *proxyProcess) string {
			return fmt.Sprintf("ops:ops-pw@tcp(%s)/myshop?timeout=5s", p.myAddr)
		}
		db1, err := sql.Open("mysql", dsn(f.proxies[0]))
		if err != nil {
			t.Fatal(err)
		}
		defer db1.Close()
		c1, err := db1.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c1.Close()
		var id uint64
		if err := c1.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		// A transaction straight on the backend holds the row the victim
		// wants to update.
		direct, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/"+f.mdb)
		if err != nil {
			t.Fatal(err)
		}
		defer direct.Close()
		tx, err := direct.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		if _, err := tx.ExecContext(ctx, "SELECT * FROM items WHERE id = 1 FOR UPDATE"); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := c1.ExecContext(ctx, "UPDATE items SET name = 'x' WHERE id = 1")
			errc <- err
		}()
		time.Sleep(300 * time.Millisecond)
		db2, err := sql.Open("mysql", dsn(f.proxies[1]))
		if err != nil {
			t.Fatal(err)
		}
		defer db2.Close()
		if _, err := db2.ExecContext(ctx, fmt.Sprintf("KILL QUERY %d", id)); err != nil {
			t.Fatalf("KILL QUERY %d through proxy 2: %v", id, err)
		}
		select {
		case err := <-errc:
			wantMyErr(t, err, 1317, "the UPDATE killed through another proxy")
		case <-time.After(10 * time.Second):
			t.Fatal("KILL QUERY through another proxy stopped nothing")
		}
		// Another user may not kill it.
		dbApp, _ := sql.Open("mysql", fmt.Sprintf("app:app-pw@tcp(%s)/myshop?timeout=5s", f.proxies[2].myAddr))
		defer dbApp.Close()
		if _, err := dbApp.ExecContext(ctx, fmt.Sprintf("KILL QUERY %d", id)); err == nil {
			t.Fatal("another user's KILL QUERY through the fleet was accepted")
		}
	})

	t.Run("stored result read from another proxy", func(t *testing.T) {
		tok := f.token(t, f.proxies[0], "app", "app-pw", "calm")
		var out map[string]any
		if code := httpJSON(t, "POST", "http://"+f.proxies[0].adminAddr+"/api/v1/tenant/query", tok, map[string]any{"sql": "SELECT count(*) AS n FROM items"}, &out); code != 200 {
			t.Fatalf("HTTP %d %v", code, out)
		}
		id, _ := out["query_id"].(string)
		var got map[string]any
		if code := httpJSON(t, "GET", "http://"+f.proxies[2].adminAddr+"/api/v1/tenant/query/"+id, tok, nil, &got); code != 200 || got["query_id"] != id {
			t.Fatalf("stored result %s from proxy 3: HTTP %d %v", id, code, got)
		}
	})

	t.Run("a write through one proxy invalidates the cached read on another", func(t *testing.T) {
		tok := f.token(t, f.proxies[1], "app", "app-pw", "calm")
		ask := func() (count string, cached bool) {
			var out struct {
				Rows   [][]any `json:"rows"`
				Cached bool    `json:"cached"`
			}
			if code := httpJSON(t, "POST", "http://"+f.proxies[1].adminAddr+"/api/v1/tenant/query", tok, map[string]any{"sql": "SELECT count(*) AS n FROM items"}, &out); code != 200 {
				t.Fatalf("HTTP %d", code)
			}
			return fmt.Sprint(out.Rows[0][0]), out.Cached
		}
		n1, _ := ask()
		n2, cached := ask()
		if !cached || n2 != n1 {
			t.Fatalf("second read: %s cached=%v, want %s from the cache", n2, cached, n1)
		}
		w, err := pgx.Connect(ctx, f.proxies[0].url("ops", "ops-pw", "calm"))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(ctx)
		start := time.Now()
		if _, err := w.Exec(ctx, "INSERT INTO items VALUES (1000, 'new')"); err != nil {
			t.Fatal(err)
		}
		n3, cached := ask()
		if cached || n3 == n1 {
			t.Fatalf("read on proxy 2 right after a write on proxy 1: %s cached=%v, want fresh rows (was %s)", n3, cached, n1)
		}
		t.Logf("write on proxy 1 → fresh read on proxy 2 %s later", time.Since(start).Round(time.Millisecond))
		// A write in a transaction invalidates again at COMMIT.
		ask()
		if _, err := w.Exec(ctx, "BEGIN; INSERT INTO items VALUES (1001, 'tx'); COMMIT"); err != nil {
			t.Fatal(err)
		}
		if n4, cached := ask(); cached || n4 == n3 {
			t.Fatalf("after a committed transaction: %s cached=%v", n4, cached)
		}
	})

	t.Run("cache hit rate of a read-mostly workload", func(t *testing.T) {
		toks := []string{f.token(t, f.proxies[0], "app", "app-pw", "calm"), f.token(t, f.proxies[1], "app", "app-pw", "calm")}
		w, err := pgx.Connect(ctx, f.proxies[0].url("ops", "ops-pw", "calm"))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(ctx)
		direct, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/"+f.calm+"?", 1))
		if err != nil {
			t.Fatal(err)
		}
		defer direct.Close(ctx)
		queries := []string{
			"SELECT count(*) AS n FROM items",
			"SELECT max(id) AS n FROM items",
			"SELECT count(*) AS n FROM items WHERE id < 5",
			"SELECT min(name) AS n FROM items",
			"SELECT count(DISTINCT name) AS n FROM items",
		}
		run := func(writeEvery int) float64 {
			hits, reads := 0, 0
			for i := 0; i < 200; i++ {
				if writeEvery > 0 && i%writeEvery == writeEvery-1 {
					if _, err := w.Exec(ctx, "INSERT INTO items VALUES ($1, 'w')", 5000+i+writeEvery*1000); err != nil {
						t.Fatal(err)
					}
				}
				q := queries[i%len(queries)]
				var out struct {
					Rows   [][]any `json:"rows"`
					Cached bool    `json:"cached"`
				}
				p := i % 2
				if code := httpJSON(t, "POST", "http://"+f.proxies[p].adminAddr+"/api/v1/tenant/query", toks[p], map[string]any{"sql": q}, &out); code != 200 {
					t.Fatalf("HTTP %d", code)
				}
				var want string
				var v any
				if err := direct.QueryRow(ctx, q).Scan(&v); err != nil {
					t.Fatal(err)
				}
				want = fmt.Sprint(v)
				if got := fmt.Sprint(out.Rows[0][0]); got != want {
					t.Fatalf("read %d (%s) on proxy %d: %s (cached %v), the backend has %s", i, q, p+1, got, out.Cached, want)
				}
				reads++
				if out.Cached {
					hits++
				}
			}
			return float64(hits) / float64(reads)
		}
		still := run(0)
		mostly := run(20)
		t.Logf("API cache hit rate, 200 reads of 5 statements over 2 proxies: %.0f%% without writes, %.0f%% with a write every 20 reads (every answer matched the backend)", still*100, mostly*100)
	})

	t.Run("a killed proxy gives back its connection slots within the lease", func(t *testing.T) {
		victim := f.proxies[2]
		var held []*pgx.Conn
		for i := 0; i < 3; i++ {
			c, err := pgx.Connect(ctx, victim.url("app", "app-pw", "shop"))
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
		c, err := pgx.Connect(ctx, f.proxies[0].url("app", "app-pw", "shop"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, err := pgx.Connect(ctx, f.proxies[1].url("app", "app-pw", "shop")); pgCode(err) != "53300" {
			t.Fatalf("fifth connection: %v, want 53300", err)
		}
		_ = victim.cmd.Process.Signal(syscall.SIGKILL)
		killed := time.Now()
		for {
			c2, err := pgx.Connect(ctx, f.proxies[1].url("app", "app-pw", "shop"))
			if err == nil {
				_ = c2.Close(ctx)
				break
			}
			if pgCode(err) != "53300" {
				t.Fatal(err)
			}
			if time.Since(killed) > 10*time.Second {
				t.Fatal("the killed proxy's connection slots never came back")
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("kill -9 of a proxy holding 3 slots: slots back after %s (lease_ttl 1s)", time.Since(killed).Round(time.Millisecond))
		for _, c := range held {
			_ = c.Close(ctx)
		}
		f.proxies = f.proxies[:2]
	})

	t.Run("Redis stopped and restarted under load", func(t *testing.T) {
		var errs, ok atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, p := range f.proxies {
			c, err := pgx.Connect(ctx, p.url("app", "app-pw", "calm"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := c.Exec(ctx, "SELECT count(*) FROM items"); err != nil {
						errs.Add(1)
						t.Errorf("statement during the Redis outage: %v", err)
						return
					}
					ok.Add(1)
					time.Sleep(5 * time.Millisecond)
				}
			}()
		}
		// New connections and the limited tenant keep working too.
		time.Sleep(300 * time.Millisecond)
		f.redis.stop()
		down := time.Now()
		time.Sleep(1500 * time.Millisecond)
		c, err := pgx.Connect(ctx, f.proxies[0].url("app", "app-pw", "shop"))
		if err != nil {
			t.Errorf("connect to a limited tenant while Redis is down: %v", err)
		} else {
			if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
				t.Errorf("statement on a limited tenant while Redis is down: %v", err)
			}
			_ = c.Close(ctx)
		}
		var hz map[string]any
		httpJSON(t, "GET", "http://"+f.proxies[0].adminAddr+"/healthz", "", nil, &hz)
		if fl, _ := hz["fleet"].(map[string]any); fl["redis"] != "unavailable" {
			t.Errorf("healthz during the outage: %v", hz)
		}
		f.redis.start(t)
		f.waitMembers(t, f.proxies[0], 2)
		t.Logf("Redis down for %s: fleet back after %s", time.Duration(1500)*time.Millisecond, time.Since(down).Round(time.Millisecond))
		close(stop)
		wg.Wait()
		if errs.Load() > 0 || ok.Load() == 0 {
			t.Fatalf("%d errors, %d statements during the Redis outage", errs.Load(), ok.Load())
		}
		t.Logf("%d statements through the outage, 0 errors", ok.Load())
	})
}
