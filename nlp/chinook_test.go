package nlp

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/tenantproxy/tenantproxy/nlp/evalset"
)

// These tests run the translator against the Chinook databases of
// ../shared (loaded as chinook_pg and chinook_my); they skip when either
// is missing. The end-to-end accuracy harness through the admin API lives
// in test/nl_eval_test.go.

type pgRunner struct{ c *pgx.Conn }

func (r pgRunner) RunCatalog(ctx context.Context, q string, fn func([]any) error) error {
	rows, err := r.c.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		vals := make([]any, len(rows.FieldDescriptions()))
		raw := rows.RawValues()
		for i, v := range raw {
			if v == nil {
				vals[i] = nil
				continue
			}
			switch rows.FieldDescriptions()[i].DataTypeOID {
			case 16:
				vals[i] = v[0] == 't'
			case 20, 21, 23, 700, 701, 1700:
				vals[i] = json.Number(string(v))
			default:
				vals[i] = string(v)
			}
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	return rows.Err()
}

type myRunner struct{ db *sql.DB }

func (r myRunner) RunCatalog(ctx context.Context, q string, fn func([]any) error) error {
	rows, err := r.db.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		raw := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		vals := make([]any, len(cols))
		for i, v := range raw {
			if v != nil {
				vals[i] = string(v)
			}
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	return rows.Err()
}

func collect(ctx context.Context, r Runner, q string) ([][]any, error) {
	var out [][]any
	err := r.RunCatalog(ctx, q, func(row []any) error {
		out = append(out, append([]any(nil), row...))
		return nil
	})
	return out, err
}

type engine struct {
	name    string
	dialect Dialect
	runner  Runner
	gold    func(evalset.Item) string
}

func chinookEngines(t testing.TB) []engine {
	ensureChinook(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []engine
	if c, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/chinook_pg?sslmode=disable"); err == nil {
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		out = append(out, engine{"postgres", Postgres, pgRunner{c}, func(i evalset.Item) string { return i.GoldPostgres }})
	} else {
		t.Logf("chinook_pg not reachable: %v", err)
	}
	if db, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/chinook_my"); err == nil && db.PingContext(ctx) == nil {
		t.Cleanup(func() { _ = db.Close() })
		out = append(out, engine{"mysql", MySQL, myRunner{db}, func(i evalset.Item) string { return i.GoldMySQL }})
	} else {
		t.Logf("chinook_my not reachable")
	}
	return out
}

func evalItems(t testing.TB) []evalset.Item {
	path := filepath.Join("..", "..", "shared", "nl-eval", "chinook.jsonl")
	if _, err := os.Stat(path); err != nil {
		t.Skip("../shared/nl-eval is absent")
	}
	items, err := evalset.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// BenchmarkNLTranslate measures translation time per question over the
// Chinook set (schema loaded once).
func BenchmarkNLTranslate(b *testing.B) {
	items := evalItems(b)
	engines := chinookEngines(b)
	if len(engines) == 0 {
		b.Skip("no chinook database")
	}
	for _, e := range engines {
		s, err := Introspect(context.Background(), e.runner, e.dialect, RowScope{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(e.name, func(b *testing.B) {
			tr := NewDeterministic()
			ctx := context.Background()
			var ds []time.Duration
			for i := 0; i < b.N; i++ {
				it := items[i%len(items)]
				t0 := time.Now()
				_, _ = tr.Translate(ctx, Request{Question: it.Question, Schema: s})
				ds = append(ds, time.Since(t0))
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "p99-µs")
		})
	}
}
