package nlp

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/tenantproxy/tenantproxy/nlp/evalset"
)

// evalDB is one database of a question set on one engine.
type evalDB struct {
	runner Runner
	schema *Schema
}

func openEvalDB(ctx context.Context, t testing.TB, dialect Dialect, name string) *evalDB {
	t.Helper()
	var r Runner
	if dialect == Postgres {
		c, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/"+name+"?sslmode=disable")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		r = pgRunner{c}
	} else {
		db, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/"+name)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PingContext(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		r = myRunner{db}
	}
	s, err := Introspect(ctx, r, dialect, RowScope{})
	if err != nil {
		t.Fatalf("%s: introspect: %v", name, err)
	}
	return &evalDB{runner: r, schema: s}
}

// TestNLEvalDirect measures the translator on the public question sets of
// ../shared/nl-eval, running its SQL directly on the databases: per engine
// and category, accuracy, precision and the calibration buckets. Chinook
// always (when ../shared is present and the databases are loaded); Spider
// dev only with NL_SPIDER=1 (load it with ../shared/nl-eval/spider/load.sh).
// NL_VERBOSE=1 logs every wrong or declined question.
func TestNLEvalDirect(t *testing.T) {
	shared := filepath.Join("..", "..", "shared", "nl-eval")
	if _, err := os.Stat(filepath.Join(shared, "chinook.jsonl")); err != nil {
		t.Skip("../shared/nl-eval is absent")
	}
	sets := []struct{ name, file, db string }{{"chinook", "chinook.jsonl", "chinook_%s"}}
	if os.Getenv("NL_SPIDER") != "" {
		sets = append(sets, struct{ name, file, db string }{"spider", filepath.Join("spider", "spider_dev.jsonl"), ""})
	}
	if len(chinookEngines(t)) < 2 {
		t.Skip("chinook_pg / chinook_my are not loaded")
	}
	ctx := context.Background()
	verbose := os.Getenv("NL_VERBOSE") != ""
	only := os.Getenv("NL_ONLY")
	for _, set := range sets {
		items, err := evalset.Load(filepath.Join(shared, set.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, dialect := range []Dialect{Postgres, MySQL} {
			suffix := map[Dialect]string{Postgres: "pg", MySQL: "my"}[dialect]
			dbs := map[string]*evalDB{}
			st := evalset.Stats{Threshold: AnswerThreshold}
			tr := NewDeterministic()
			for _, it := range items {
				if only != "" && !strings.Contains(","+only+",", ","+it.ID+",") && it.DB != only {
					continue
				}
				name := fmt.Sprintf(set.db, suffix)
				if it.DB != "" {
					name = "spider_" + it.DB
				}
				d := dbs[name]
				if d == nil {
					d = openEvalDB(ctx, t, dialect, name)
					dbs[name] = d
				}
				gsql := it.GoldPostgres
				if dialect == MySQL {
					gsql = it.GoldMySQL
				}
				gold, err := collect(ctx, d.runner, gsql)
				if err != nil {
					t.Fatalf("%s %s gold: %v", dialect, it.ID, err)
				}
				res, err := tr.Translate(ctx, Request{Question: it.Question, Schema: d.schema})
				if err != nil {
					st.Add(it, false, false, 0)
					if verbose {
						t.Logf("%s %s DECLINED %q: %v", dialect, it.ID, it.Question, err)
					}
					continue
				}
				got, qerr := collect(ctx, d.runner, res.SQL)
				ok := qerr == nil && evalset.Match(gold, got, evalset.AsksOrder(it.Question, gsql))
				st.Add(it, true, ok, res.Confidence)
				if ok && verbose && res.Confidence < AnswerThreshold {
					t.Logf("%s %s LOW (%.2f) right under the threshold %q\n   sql:  %s\n   why: %v", dialect, it.ID, res.Confidence, it.Question, res.SQL, res.Explanation)
				}
				if !ok && verbose {
					t.Logf("%s %s WRONG (%.2f) %q\n   sql:  %s\n   gold: %s\n   err: %v rows %d vs gold %d", dialect, it.ID, res.Confidence, it.Question, res.SQL, gsql, qerr, len(got), len(gold))
				}
			}
			st.Report(t.Logf, set.name, string(dialect))
		}
	}
}
