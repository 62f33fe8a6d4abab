package test

// The adversarial isolation suite (issue 4): hostile statements, kept as data
// in testdata/adversarial/{pg,mysql}.txt, run end to end through the proxy
// against real tenants seeded with unique marker strings. Whatever a case
// expects, every step is checked by the same oracle: nothing returned to the
// attacker (result rows, column names, errors, notices, notifications, COPY
// data) contains a marker of a tenant the user does not hold, or a value its
// role must not see (masked columns, denied tables, rows outside its row
// filters); and after every case a superuser checks that no other tenant's
// rows changed (row counts and checksums of every seeded table).
//
// Case file format:
//
//	## a comment (only at the start of a line, outside SQL)
//	=== case-name
//	@ user@database expect [key=value ...]
//	SQL text (any number of lines; sent as one message)
//	@ user@database expect ...   (a further step; same user@database reuses the connection)
//
// expect is one of
//
//	refused  a proxy policy error (Postgres 42501 0A000 42601; MySQL 1044 1142 1227 1064 1235 1105...)
//	error    any error (the proxy's or the backend's)
//	ok       success
//	any      either; only the oracle applies
//
// keys: rows=N (rows of the last result set), capped=N (at most N rows; a
// "result limited" notice only with exactly N rows, since it means rows
// were withheld), contains=S (the output must contain S: proves
// the step really ran on the right data), code=C (the exact error code),
// mode=simple|params|prepared|execprepared|copy|copyin|connect (Postgres),
// mode=query|exec|prepared (MySQL), name=N (prepared statement name),
// data=D (COPY FROM STDIN data, \t and \n escapes), params=a,b (parameter
// values, mode=params), startup=k:v (startup
// parameter, Postgres).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// advStep is one statement text sent by one user.
type advStep struct {
	user, db string
	expect   string
	args     map[string]string
	sql      string
	line     int
}

// advCase is a named sequence of steps.
type advCase struct {
	name  string
	line  int
	steps []advStep
}

// parseAdvCases reads a case file, replacing {{placeholders}} from vars.
func parseAdvCases(t *testing.T, path string, vars map[string]string) []advCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	subst := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "{{"+k+"}}", v)
		}
		return s
	}
	var cases []advCase
	var cur *advCase
	var step *advStep
	var sqlLines []string
	endStep := func() {
		if step != nil {
			step.sql = subst(strings.TrimSpace(strings.Join(sqlLines, "\n")))
			if step.sql == "" && step.args["mode"] != "connect" {
				t.Fatalf("%s:%d: step without SQL", path, step.line)
			}
			cur.steps = append(cur.steps, *step)
		}
		step, sqlLines = nil, nil
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	ln := 0
	for sc.Scan() {
		ln++
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "##"):
			continue
		case strings.HasPrefix(line, "=== "):
			endStep()
			name := strings.TrimSpace(line[4:])
			if names[name] {
				t.Fatalf("%s:%d: duplicate case name %q", path, ln, name)
			}
			names[name] = true
			cases = append(cases, advCase{name: name, line: ln})
			cur = &cases[len(cases)-1]
		case strings.HasPrefix(line, "@ "):
			if cur == nil {
				t.Fatalf("%s:%d: step outside a case", path, ln)
			}
			endStep()
			f := strings.Fields(line[2:])
			if len(f) < 2 {
				t.Fatalf("%s:%d: want '@ user@db expect [k=v...]'", path, ln)
			}
			user, db, ok := strings.Cut(f[0], "@")
			if !ok {
				t.Fatalf("%s:%d: want user@db, got %q", path, ln, f[0])
			}
			switch f[1] {
			case "refused", "error", "ok", "any":
			default:
				t.Fatalf("%s:%d: unknown expectation %q", path, ln, f[1])
			}
			step = &advStep{user: user, db: subst(db), expect: f[1], args: map[string]string{}, line: ln}
			for _, kv := range f[2:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("%s:%d: bad argument %q", path, ln, kv)
				}
				step.args[k] = subst(v)
			}
		default:
			if step == nil {
				if strings.TrimSpace(line) == "" {
					continue
				}
				t.Fatalf("%s:%d: text outside a step: %q", path, ln, line)
			}
			sqlLines = append(sqlLines, line)
		}
	}
	endStep()
	for _, c := range cases {
		if len(c.steps) == 0 {
			t.Fatalf("%s:%d: case %s has no steps", path, c.line, c.name)
		}
	}
	return cases
}

// advUnescape turns \t, \n and \\ in a data= argument into their bytes.
func advUnescape(s string) string {
	r := strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\s`, " ", `\\`, `\`)
	return r.Replace(s)
}

// advMarkers maps each tenant to the marker strings seeded into its data.
// hidden maps a user to markers of its own tenants that its role must not
// see (masked values, denied tables, rows outside its row filters).
type advOracle struct {
	tenantMarkers map[string][]string
	held          map[string][]string // user -> tenants held
	hidden        map[string][]string // user -> markers hidden by its roles
}

// forbidden returns the markers user must never see.
func (o *advOracle) forbidden(user string) []string {
	holds := map[string]bool{}
	for _, t := range o.held[user] {
		holds[t] = true
	}
	var out []string
	for t, ms := range o.tenantMarkers {
		if !holds[t] {
			out = append(out, ms...)
		}
	}
	out = append(out, o.hidden[user]...)
	sort.Strings(out)
	return out
}

// leaks returns the forbidden markers found in output (case-insensitive,
// also reversed, hex- and base64-encoded), ignoring markers the attacker
// itself wrote in its statement.
func (o *advOracle) leaks(user, sql, output string) []string {
	low := strings.ToLower(output)
	lsql := strings.ToLower(sql)
	var found []string
	for _, m := range o.forbidden(user) {
		lm := strings.ToLower(m)
		if strings.Contains(lsql, lm) {
			continue
		}
		rev := []rune(lm)
		for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
			rev[i], rev[j] = rev[j], rev[i]
		}
		b64 := strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(m)), "=")
		if len(b64) > 4 {
			b64 = b64[:len(b64)-2]
		}
		switch {
		case strings.Contains(low, lm):
			found = append(found, m)
		case strings.Contains(low, string(rev)):
			found = append(found, m+" (reversed)")
		case strings.Contains(low, hex.EncodeToString([]byte(m))):
			found = append(found, m+" (hex)")
		case strings.Contains(output, b64):
			found = append(found, m+" (base64)")
		}
	}
	return found
}

// advOutcome is what one step returned.
type advOutcome struct {
	err      error
	code     string
	out      strings.Builder // everything the attacker saw, for the oracle
	lastRows int
	maxRows  int
	capped   bool // a "result limited" notice arrived
}

func (o *advOutcome) summary() string {
	s := o.out.String()
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

// checkExpect compares an outcome with the step's expectation.
func checkExpect(st advStep, o *advOutcome, refusedCodes map[string]bool) []string {
	var fails []string
	switch st.expect {
	case "refused":
		if o.err == nil {
			fails = append(fails, "was allowed, want refused")
		} else if c := st.args["code"]; c != "" {
			if o.code != c {
				fails = append(fails, fmt.Sprintf("error %q (code %s), want code %s", o.err, o.code, c))
			}
		} else if !refusedCodes[o.code] {
			fails = append(fails, fmt.Sprintf("error %q (code %s) is not a policy refusal", o.err, o.code))
		}
	case "error":
		if o.err == nil {
			fails = append(fails, "succeeded, want an error")
		} else if c := st.args["code"]; c != "" && o.code != c {
			fails = append(fails, fmt.Sprintf("error %q (code %s), want code %s", o.err, o.code, c))
		}
	case "ok":
		if o.err != nil {
			fails = append(fails, fmt.Sprintf("failed: %v (code %s), want success", o.err, o.code))
		}
	}
	if o.err == nil {
		if v, ok := st.args["rows"]; ok {
			if n, _ := strconv.Atoi(v); n != o.lastRows {
				fails = append(fails, fmt.Sprintf("returned %d rows, want %d", o.lastRows, n))
			}
		}
		if v, ok := st.args["capped"]; ok {
			n, _ := strconv.Atoi(v)
			if o.maxRows > n {
				fails = append(fails, fmt.Sprintf("returned %d rows, want at most %d (max_rows cap)", o.maxRows, n))
			}
			// The notice means rows were withheld: then the client got
			// exactly the cap.
			if o.capped && o.maxRows != n {
				fails = append(fails, fmt.Sprintf("a \"result limited\" notice with %d rows, want %d", o.maxRows, n))
			}
		}
	}
	if v, ok := st.args["contains"]; ok && !strings.Contains(o.out.String(), advUnescape(v)) {
		fails = append(fails, fmt.Sprintf("output does not contain %q (did the step run on the right data?): %s", v, o.summary()))
	}
	return fails
}

// ---------------------------------------------------------------- Postgres

// advPG is the Postgres fixture: tenants alpha, beta (database isolation),
// gamma, delta (schema isolation in one database), shop_a, shop_b (row
// isolation in one database).
type advPG struct {
	rp                        *runningProxy
	alphaDB, betaDB, sharedDB string
	rowDB                     string
	oracle                    *advOracle
	su                        map[string]*pgx.Conn // superuser connection per backend database
	access                    map[string]map[string]string
	vars                      map[string]string
	tenantTables              map[string][]string // tenant -> checksum queries
	tenantDB                  map[string]string
	seedFns                   map[string]func(t *testing.T) // backend database -> reseed
	mu                        sync.Mutex
	notices                   map[*pgconn.PgConn]*strings.Builder
	noticeCapped              map[*pgconn.PgConn]bool
}

// advPGUsers: user -> tenant -> role. Passwords are user + "-pw".
var advPGUsers = map[string]map[string]string{
	"aa":  {"alpha": "admin"},
	"an":  {"alpha": "analyst"},
	"av":  {"alpha": "viewer"},
	"ar":  {"alpha": "restricted"},
	"am":  {"alpha": "maskedit"},
	"sw":  {"alpha": "viewer", "beta": "admin"},
	"ba":  {"beta": "admin"},
	"ga":  {"gamma": "admin"},
	"gn":  {"gamma": "analyst"},
	"gv":  {"gamma": "viewer"},
	"da":  {"delta": "admin"},
	"sa":  {"shop_a": "admin"},
	"se":  {"shop_a": "editor"},
	"sv":  {"shop_a": "viewer"},
	"sam": {"shop_a": "support"},
	"sb":  {"shop_b": "admin"},
	"so":  {"shop_owner": "admin"},
}

// advWriteRoles are the roles that may change their own tenant's data.
var advWriteRoles = map[string]bool{"admin": true, "editor": true, "maskedit": true}

func advMarkersFor(tenant string, n int, prefix string) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s-%s-%d", prefix, tenant, i))
	}
	return out
}

func newAdvPG(t *testing.T) *advPG {
	t.Helper()
	requirePostgres(t)
	f := &advPG{
		su:           map[string]*pgx.Conn{},
		notices:      map[*pgconn.PgConn]*strings.Builder{},
		noticeCapped: map[*pgconn.PgConn]bool{},
		seedFns:      map[string]func(t *testing.T){},
	}
	f.alphaDB = tempPGDatabase(t, "adv_alpha")
	f.betaDB = tempPGDatabase(t, "adv_beta")
	f.sharedDB = tempPGDatabase(t, "adv_shared")
	f.rowDB = tempPGDatabase(t, "adv_row")
	f.vars = map[string]string{"alpha_db": f.alphaDB, "beta_db": f.betaDB, "shared_db": f.sharedDB, "row_db": f.rowDB}

	o := &advOracle{tenantMarkers: map[string][]string{}, held: map[string][]string{}, hidden: map[string][]string{}}
	for _, tn := range []string{"alpha", "beta", "gamma", "delta"} {
		ms := append(advMarkersFor(tn, 5, "SECRET"), advMarkersFor(tn, 5, "mask")...)
		for i := range ms[5:] {
			ms[5+i] += "@x"
		}
		ms = append(ms, "DENIED-"+tn+"-1", "SECRET-"+tn+"-lo", "SECRET-"+tn+"-n1")
		o.tenantMarkers[tn] = ms
	}
	for _, tn := range []string{"shop_a", "shop_b"} {
		ms := advMarkersFor(tn, 5, "SECRET")
		for _, m := range advMarkersFor(tn, 3, "mask") {
			ms = append(ms, m+"@x")
		}
		ms = append(ms, "TKT-"+tn+"-sam", "TKT-"+tn+"-tom", "PAY-"+tn+"-1", "SCRATCH-"+tn+"-1",
			"SECRET-"+tn+"-lo", "SECRET-"+tn+"-n1", "LATE-"+tn+"-1", "PROXY-"+tn+"-1", "MID-"+tn+"-1")
		o.tenantMarkers[tn] = ms
	}
	f.access = advPGUsers
	for u, ts := range advPGUsers {
		for tn, role := range ts {
			o.held[u] = append(o.held[u], tn)
			switch {
			case role == "viewer" && (tn == "alpha" || tn == "gamma"):
				o.hidden[u] = append(o.hidden[u], advEmails(tn, 5)...)
			case role == "maskedit":
				o.hidden[u] = append(o.hidden[u], advEmails(tn, 5)...)
			case role == "viewer" && tn == "shop_a":
				o.hidden[u] = append(o.hidden[u], advEmails(tn, 3)...)
			case role == "restricted":
				o.hidden[u] = append(o.hidden[u], "DENIED-"+tn+"-1")
			case role == "support":
				o.hidden[u] = append(o.hidden[u], "TKT-"+tn+"-tom", "PAY-"+tn+"-1")
			}
		}
	}
	f.oracle = o

	f.seedFns[f.alphaDB] = func(t *testing.T) { f.seedDatabase(t, f.alphaDB, "alpha") }
	f.seedFns[f.betaDB] = func(t *testing.T) { f.seedDatabase(t, f.betaDB, "beta") }
	f.seedFns[f.sharedDB] = func(t *testing.T) { f.seedSchemas(t) }
	f.seedFns[f.rowDB] = func(t *testing.T) { f.seedRows(t) }
	for _, db := range []string{f.alphaDB, f.betaDB, f.sharedDB, f.rowDB} {
		f.seedFns[db](t)
	}
	f.tenantDB = map[string]string{"alpha": f.alphaDB, "beta": f.betaDB, "gamma": f.sharedDB, "delta": f.sharedDB, "shop_a": f.rowDB, "shop_b": f.rowDB}
	f.tenantTables = map[string][]string{}
	for _, tn := range []string{"alpha", "beta"} {
		f.tenantTables[tn] = []string{"public.items", "public.payroll"}
	}
	for _, tn := range []string{"gamma", "delta"} {
		f.tenantTables[tn] = []string{tn + ".items", tn + ".payroll",
			"(SELECT last_value, is_called FROM " + tn + ".items_id_seq)"}
	}
	for tn, v := range map[string]string{"shop_a": "a", "shop_b": "b"} {
		for _, tb := range []string{"orders", "customers", "tickets", "payments", "scratch", "late_direct", "late_proxy"} {
			f.tenantTables[tn] = append(f.tenantTables[tn], fmt.Sprintf("(SELECT * FROM public.%s WHERE tenant_id = '%s')", tb, v))
		}
	}

	pool := "{size: 3, timeout: 5s}"
	var users strings.Builder
	for _, u := range advSortedUsers(advPGUsers) {
		var ts []string
		for tn, role := range advPGUsers[u] {
			ts = append(ts, tn+": "+role)
		}
		sort.Strings(ts)
		fmt.Fprintf(&users, "  - {name: %s, password: %s-pw, tenants: {%s}}\n", u, u, strings.Join(ts, ", "))
	}
	dsn := func(db string) string { return "postgres://postgres@127.0.0.1:5432/" + db + "?sslmode=disable" }
	rowRoles := `{viewer: {max_rows: 3, masked_columns: [customers.email]},
             support: {access: read, denied_tables: [payments], row_filters: {tickets: "assignee = {{user}}"}}}`
	yaml := fmt.Sprintf(`
tenants:
  - {id: alpha, engine: postgres, dsn: "%s", pool: %s,
     roles: {viewer: {max_rows: 3, masked_columns: [items.email]},
             restricted: {access: read, denied_tables: [payroll]},
             maskedit: {access: write, masked_columns: [items.email]}}}
  - {id: beta, engine: postgres, dsn: "%s", pool: %s}
  - {id: gamma, engine: postgres, dsn: "%s", isolation: schema, pool: %s,
     roles: {viewer: {max_rows: 3, masked_columns: [items.email]}}}
  - {id: delta, engine: postgres, dsn: "%s", isolation: schema, pool: %s}
  - {id: shop_a, engine: postgres, dsn: "%s", isolation: row, tenant_column: tenant_id, tenant_value: a, pool: %s,
     roles: %s}
  - {id: shop_b, engine: postgres, dsn: "%s", isolation: row, tenant_column: tenant_id, tenant_value: b, pool: %s,
     roles: %s}
  - {id: shop_owner, engine: postgres, dsn: "%s", pool: %s}
users:
%s`, dsn(f.alphaDB), pool, dsn(f.betaDB), pool, dsn(f.sharedDB), pool, dsn(f.sharedDB), pool,
		dsn(f.rowDB), pool, rowRoles, dsn(f.rowDB), pool, rowRoles, dsn(f.rowDB), pool, users.String())
	f.rp = startProxy(t, yaml)

	ctx := context.Background()
	for _, db := range []string{f.alphaDB, f.betaDB, f.sharedDB, f.rowDB} {
		c, err := pgx.Connect(ctx, strings.Replace(pgAdminDSN, "/postgres?", "/"+db+"?", 1))
		if err != nil {
			t.Fatal(err)
		}
		f.su[db] = c
		t.Cleanup(func() { _ = c.Close(context.Background()) })
	}
	f.victims(t)
	f.lateTables(t)
	return f
}

// lateTables creates tenant tables after the row tenants' catalogs were
// read (the config lists no tenant_tables): late_direct straight on the
// backend, late_proxy by shop_owner's admin through the proxy.
func (f *advPG) lateTables(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, u := range []string{"sa", "sb"} {
		c := f.rp.connect(t, u, u+"-pw", advPGUsersTenant(u))
		if _, err := c.Exec(ctx, "SELECT count(*) FROM orders"); err != nil {
			t.Fatal(err)
		}
		_ = c.Close(ctx)
	}
	create := "CREATE TABLE public.%s (id int PRIMARY KEY, tenant_id text NOT NULL, secret text)"
	fill := "INSERT INTO public.%s VALUES (1, 'a', '%s-shop_a-1'), (101, 'b', '%s-shop_b-1')"
	if _, err := f.su[f.rowDB].Exec(ctx, fmt.Sprintf(create, "late_direct")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.su[f.rowDB].Exec(ctx, fmt.Sprintf(fill, "late_direct", "LATE", "LATE")); err != nil {
		t.Fatal(err)
	}
	so := f.rp.connect(t, "so", "so-pw", "shop_owner")
	for _, q := range []string{fmt.Sprintf(create, "late_proxy"), fmt.Sprintf(fill, "late_proxy", "PROXY", "PROXY")} {
		if _, err := so.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	_ = so.Close(ctx)
}

func advPGUsersTenant(u string) string {
	for tn := range advPGUsers[u] {
		return tn
	}
	return ""
}

func advEmails(tn string, n int) []string {
	var out []string
	for _, m := range advMarkersFor(tn, n, "mask") {
		out = append(out, m+"@x")
	}
	return out
}

func advSortedUsers[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// seedDatabase (re)creates a database-isolated tenant's tables.
func (f *advPG) seedDatabase(t *testing.T, db, tn string) {
	t.Helper()
	q := []string{
		"DROP TABLE IF EXISTS public.items, public.payroll CASCADE",
		"CREATE TABLE public.items (id serial PRIMARY KEY, name text NOT NULL, secret text, email text)",
		"CREATE TABLE public.payroll (id serial PRIMARY KEY, who text, note text)",
		fmt.Sprintf("INSERT INTO public.payroll (who, note) VALUES ('boss', 'DENIED-%s-1')", tn),
	}
	for i := 1; i <= 5; i++ {
		q = append(q, fmt.Sprintf("INSERT INTO public.items (name, secret, email) VALUES ('%s-item-%d', 'SECRET-%s-%d', 'mask-%s-%d@x')", tn, i, tn, i, tn, i))
	}
	q = append(q, "ANALYZE public.items", "ANALYZE public.payroll")
	pgExec(t, db, q...)
}

// seedSchemas (re)creates schemas gamma and delta of the shared database.
func (f *advPG) seedSchemas(t *testing.T) {
	t.Helper()
	q := []string{"DROP SCHEMA IF EXISTS gamma, delta, tp_renamed CASCADE"}
	for _, tn := range []string{"gamma", "delta"} {
		q = append(q,
			"CREATE SCHEMA "+tn,
			"CREATE TABLE "+tn+".items (id serial PRIMARY KEY, name text NOT NULL, secret text, email text)",
			"CREATE TABLE "+tn+".payroll (id serial PRIMARY KEY, who text, note text)",
			fmt.Sprintf("INSERT INTO %s.payroll (who, note) VALUES ('boss', 'DENIED-%s-1')", tn, tn))
		for i := 1; i <= 5; i++ {
			q = append(q, fmt.Sprintf("INSERT INTO %s.items (name, secret, email) VALUES ('%s-item-%d', 'SECRET-%s-%d', 'mask-%s-%d@x')", tn, tn, i, tn, i, tn, i))
		}
		q = append(q, "ANALYZE "+tn+".items", "ANALYZE "+tn+".payroll")
	}
	pgExec(t, f.sharedDB, q...)
}

// seedRows (re)creates the shared tables of the row-isolated tenants.
func (f *advPG) seedRows(t *testing.T) {
	t.Helper()
	q := []string{
		"DROP SCHEMA IF EXISTS tp_renamed CASCADE",
		"CREATE SCHEMA IF NOT EXISTS public",
		"DROP TABLE IF EXISTS public.orders, public.customers, public.tickets, public.payments, public.scratch, public.plans CASCADE",
		"CREATE TABLE public.orders (id int PRIMARY KEY, tenant_id text NOT NULL, note text, email text)",
		"CREATE TABLE public.customers (id int PRIMARY KEY, tenant_id text NOT NULL, name text, email text)",
		"CREATE TABLE public.tickets (id int PRIMARY KEY, tenant_id text NOT NULL, assignee text, body text)",
		"CREATE TABLE public.payments (id int PRIMARY KEY, tenant_id text NOT NULL, card text)",
		"CREATE TABLE public.scratch (id int PRIMARY KEY, tenant_id text NOT NULL, note text)",
		"CREATE TABLE public.plans (id int PRIMARY KEY, name text)",
		"INSERT INTO public.plans VALUES (1, 'basic'), (2, 'pro')",
	}
	for tn, v := range map[string]string{"shop_a": "a", "shop_b": "b"} {
		base := 0
		if v == "b" {
			base = 100
		}
		for i := 1; i <= 5; i++ {
			q = append(q, fmt.Sprintf("INSERT INTO public.orders VALUES (%d, '%s', 'SECRET-%s-%d', 'o%d@%s')", base+i, v, tn, i, i, v))
		}
		for i := 1; i <= 3; i++ {
			q = append(q, fmt.Sprintf("INSERT INTO public.customers VALUES (%d, '%s', 'cust-%s-%d', 'mask-%s-%d@x')", base+i, v, v, i, tn, i))
		}
		q = append(q,
			fmt.Sprintf("INSERT INTO public.tickets VALUES (%d, '%s', 'sam', 'TKT-%s-sam'), (%d, '%s', 'tom', 'TKT-%s-tom')", base+1, v, tn, base+2, v, tn),
			fmt.Sprintf("INSERT INTO public.payments VALUES (%d, '%s', 'PAY-%s-1')", base+1, v, tn),
			fmt.Sprintf("INSERT INTO public.scratch VALUES (%d, '%s', 'SCRATCH-%s-1')", base+1, v, tn))
	}
	q = append(q, "ANALYZE public.orders", "ANALYZE public.customers", "ANALYZE public.tickets", "ANALYZE public.payments", "ANALYZE public.scratch")
	pgExec(t, f.rowDB, q...)
}

// victims has other tenants do ordinary work through the proxy first: the
// backend connections they leave idle in their pools, their large objects
// and their notifications are what an attacker probes.
func (f *advPG) victims(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	run := func(user, tenant string, sqls ...string) {
		c := f.rp.connect(t, user, user+"-pw", tenant)
		for _, q := range sqls {
			if _, err := c.PgConn().Exec(ctx, q).ReadAll(); err != nil {
				t.Logf("victim %s@%s: %s: %v (created as superuser instead)", user, tenant, q, err)
			}
		}
		_ = c.Close(ctx)
	}
	// Large objects live per database: shared by schema- and row-isolated
	// tenants. Their OIDs are small and sequential, so attackers may guess
	// them; the cases get them as {{lo_shared}} and {{lo_row}}.
	for db, key := range map[string]string{f.sharedDB: "lo_shared", f.rowDB: "lo_row"} {
		marker := "SECRET-delta-lo"
		if key == "lo_row" {
			marker = "SECRET-shop_b-lo"
		}
		var oid uint32
		if err := f.su[db].QueryRow(ctx, "SELECT lo_from_bytea(0, convert_to($1, 'UTF8'))", marker).Scan(&oid); err != nil {
			t.Fatal(err)
		}
		f.vars[key] = strconv.FormatUint(uint64(oid), 10)
	}
	run("ba", "beta", "SELECT id FROM items WHERE secret = 'SECRET-beta-3'")
	run("da", "delta", "SELECT id FROM items WHERE secret = 'SECRET-delta-3'")
	run("sb", "shop_b", "SELECT id FROM orders WHERE note = 'SECRET-shop_b-3'")
}

// snapshot returns, per tenant, the row count and checksum of each of its tables.
func (f *advPG) snapshot(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for tn, tables := range f.tenantTables {
		c := f.su[f.tenantDB[tn]]
		var b strings.Builder
		for _, tb := range tables {
			var s string
			err := c.QueryRow(ctx, "SELECT count(*)::text || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM "+tb+" x").Scan(&s)
			if err != nil {
				s = "ERROR " + err.Error()
			}
			fmt.Fprintf(&b, "%s=%s; ", tb, s)
		}
		out[tn] = b.String()
	}
	return out
}

// pgRefused are the SQLSTATEs of the proxy's policy refusals.
var pgRefused = map[string]bool{"42501": true, "0A000": true, "42601": true}

// conn opens (or reuses within a case) a connection for user@db.
func (f *advPG) conn(ctx context.Context, st advStep, conns map[string]*pgconn.PgConn) (*pgconn.PgConn, error) {
	key := st.user + "@" + st.db
	if c, ok := conns[key]; ok && st.args["mode"] != "connect" {
		return c, nil
	}
	cfg, err := pgconn.ParseConfig(f.rp.pgURL(st.user, st.user+"-pw", st.db))
	if err != nil {
		return nil, err
	}
	if sp := st.args["startup"]; sp != "" {
		k, v, _ := strings.Cut(sp, ":")
		cfg.RuntimeParams[k] = v
	}
	cfg.OnNotice = func(c *pgconn.PgConn, n *pgconn.Notice) {
		f.mu.Lock()
		defer f.mu.Unlock()
		b := f.notices[c]
		if b == nil {
			b = &strings.Builder{}
			f.notices[c] = b
		}
		fmt.Fprintf(b, "NOTICE %s %s %s %s\n", n.Code, n.Message, n.Detail, n.Hint)
		if strings.Contains(n.Message, "result limited") {
			f.noticeCapped[c] = true
		}
	}
	cfg.OnNotification = func(c *pgconn.PgConn, n *pgconn.Notification) {
		f.mu.Lock()
		defer f.mu.Unlock()
		b := f.notices[c]
		if b == nil {
			b = &strings.Builder{}
			f.notices[c] = b
		}
		fmt.Fprintf(b, "NOTIFICATION %s %s\n", n.Channel, n.Payload)
	}
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if st.args["mode"] != "connect" {
		conns[key] = c
	}
	return c, nil
}

// takeNotices returns and clears what arrived asynchronously on c.
func (f *advPG) takeNotices(c *pgconn.PgConn) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, capped := "", f.noticeCapped[c]
	if b := f.notices[c]; b != nil {
		s = b.String()
		b.Reset()
	}
	delete(f.noticeCapped, c)
	return s, capped
}

func pgErrText(err error) (string, string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, fmt.Sprintf("ERROR %s %s | %s | %s | %s | %s.%s.%s %s", pe.Code, pe.Message, pe.Detail, pe.Hint,
			pe.Where, pe.SchemaName, pe.TableName, pe.ColumnName, pe.ConstraintName)
	}
	return "", "ERROR " + err.Error()
}

func (o *advOutcome) addResult(r *pgconn.Result) {
	for _, fd := range r.FieldDescriptions {
		o.out.WriteString(fd.Name)
		o.out.WriteByte('\t')
	}
	o.out.WriteByte('\n')
	for _, row := range r.Rows {
		for _, v := range row {
			o.out.Write(v)
			o.out.WriteByte('\t')
		}
		o.out.WriteByte('\n')
	}
	if len(r.FieldDescriptions) > 0 {
		o.lastRows = len(r.Rows)
		if len(r.Rows) > o.maxRows {
			o.maxRows = len(r.Rows)
		}
	}
	o.out.WriteString(r.CommandTag.String() + "\n")
}

// runStep runs one step and returns what it did.
func (f *advPG) runStep(st advStep, conns map[string]*pgconn.PgConn) *advOutcome {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	o := &advOutcome{}
	c, err := f.conn(ctx, st, conns)
	if err != nil || st.args["mode"] == "connect" {
		o.err = err
		if err != nil {
			o.code, _ = pgErrText(err)
			_, txt := pgErrText(err)
			o.out.WriteString(txt)
		} else {
			_ = c.Close(ctx)
		}
		return o
	}
	name := st.args["name"]
	if name == "" {
		name = "adv_stmt"
	}
	switch st.args["mode"] {
	case "", "simple":
		res, err := c.Exec(ctx, st.sql).ReadAll()
		for _, r := range res {
			o.addResult(r)
			if r.Err != nil && err == nil {
				err = r.Err
			}
		}
		o.err = err
	case "params":
		var params [][]byte
		if v, ok := st.args["params"]; ok {
			for _, p := range strings.Split(v, ",") {
				params = append(params, []byte(p))
			}
		}
		r := c.ExecParams(ctx, st.sql, params, nil, nil, nil).Read()
		o.addResult(r)
		o.err = r.Err
	case "prepared", "execprepared":
		if st.args["mode"] == "prepared" {
			sd, err := c.Prepare(ctx, name, st.sql, nil)
			if err != nil {
				o.err = err
				break
			}
			for _, fd := range sd.Fields {
				o.out.WriteString(fd.Name + "\t")
			}
		}
		r := c.ExecPrepared(ctx, name, nil, nil, nil).Read()
		o.addResult(r)
		o.err = r.Err
	case "copy":
		var buf bytes.Buffer
		tag, err := c.CopyTo(ctx, &buf, st.sql)
		o.out.Write(buf.Bytes())
		o.out.WriteString(tag.String())
		o.err = err
		if err == nil {
			n := strings.Count(buf.String(), "\n")
			o.lastRows, o.maxRows = n, n
		}
	case "copyin":
		tag, err := c.CopyFrom(ctx, strings.NewReader(advUnescape(st.args["data"])), st.sql)
		o.out.WriteString(tag.String())
		o.err = err
	default:
		o.err = fmt.Errorf("unknown mode %q", st.args["mode"])
	}
	if o.err != nil {
		var txt string
		o.code, txt = pgErrText(o.err)
		o.out.WriteString(txt + "\n")
		if c.IsClosed() {
			delete(conns, st.user+"@"+st.db)
		}
	}
	// Notifications arrive with the next message from the server.
	n, capped := f.takeNotices(c)
	o.out.WriteString(n)
	o.capped = capped
	return o
}

// run runs one case: every step, the oracle on each, then the write check.
func (f *advPG) run(t *testing.T, c advCase, before map[string]string) map[string]string {
	conns := map[string]*pgconn.PgConn{}
	defer func() {
		for _, cn := range conns {
			_ = cn.Close(context.Background())
		}
	}()
	mayChange := map[string]bool{}
	for i, st := range c.steps {
		for tn, role := range f.access[st.user] {
			if advWriteRoles[role] {
				mayChange[tn] = true
			}
		}
		o := f.runStep(st, conns)
		where := fmt.Sprintf("pg.txt:%d %s step %d (%s@%s)", st.line, c.name, i+1, st.user, st.db)
		if os.Getenv("TP_ADV_VERBOSE") != "" {
			t.Logf("%s: err=%v\n%s", where, o.err, o.summary())
		}
		for _, l := range f.oracle.leaks(st.user, st.sql, o.out.String()) {
			t.Errorf("LEAK %s: %q reached %s: statement %q; output: %s", where, l, st.user, st.sql, o.summary())
		}
		for _, fl := range checkExpect(st, o, pgRefused) {
			t.Errorf("%s: %s: statement %q", where, fl, st.sql)
		}
	}
	after := f.snapshot(t)
	dirty := map[string]bool{}
	for tn, v := range after {
		if v != before[tn] && !mayChange[tn] {
			t.Errorf("CHANGED pg.txt:%d %s: tenant %s's data changed:\nbefore %s\nafter  %s", c.line, c.name, tn, before[tn], v)
			dirty[f.tenantDB[tn]] = true
		}
	}
	if len(dirty) > 0 {
		for db := range dirty {
			f.seedFns[db](t)
		}
		after = f.snapshot(t)
	}
	return after
}

// TestAdversarialPG runs testdata/adversarial/pg.txt.
func TestAdversarialPG(t *testing.T) {
	f := newAdvPG(t)
	cases := parseAdvCases(t, "testdata/adversarial/pg.txt", f.vars)
	if len(cases) < 150 {
		t.Fatalf("only %d Postgres cases, want at least 150", len(cases))
	}
	start := time.Now()
	snap := f.snapshot(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			snap = f.run(t, c, snap)
		})
	}
	t.Logf("%d Postgres adversarial cases in %v", len(cases), time.Since(start).Round(time.Millisecond))
}
