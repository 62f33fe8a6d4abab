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
	"github.com/tenantproxy/tenantproxy/proxy/mongopipe"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// evalDB is one database of a question set on one engine.
type evalDB struct {
	runner Runner
	schema *Schema
	mongo  *mongo.Database // a MongoDB copy: pipelines run here
}

// sqliteEvalDB is the SQLite copy of chinook_pg.
func sqliteEvalDB(ctx context.Context, t testing.TB) *evalDB {
	r := myRunner{chinookSQLite(t)}
	s, err := Introspect(ctx, r, SQLite, RowScope{})
	if err != nil {
		t.Fatalf("sqlite: introspect: %v", err)
	}
	return &evalDB{runner: r, schema: s}
}

// mongoEvalDB is the FerretDB copy of chinook_pg.
func mongoEvalDB(ctx context.Context, t testing.TB) *evalDB {
	db := chinookMongo(t)
	s, err := IntrospectMongo(ctx, db, MongoIntrospectOptions{})
	if err != nil {
		t.Fatalf("mongodb: introspect: %v", err)
	}
	return &evalDB{schema: s, mongo: db}
}

// runMongo runs a translated pipeline: the part the server runs exactly
// on it, the rest completed by mongopipe (with $lookup reading the
// foreign collection through the same split), and flattens the documents.
func runMongo(ctx context.Context, db *mongo.Database, q *MongoQuery) ([][]any, error) {
	if q == nil {
		return nil, fmt.Errorf("no pipeline")
	}
	docs, err := aggregateSplit(ctx, db, q.Collection, q.Pipeline)
	if err != nil {
		return nil, err
	}
	var out [][]any
	for _, d := range docs {
		raw, err := bson.Marshal(d)
		if err != nil {
			return nil, err
		}
		out = append(out, q.Row(raw))
	}
	if len(out) == 0 && q.EmptyRow != nil {
		out = append(out, q.EmptyRow)
	}
	return out, nil
}

func aggregateSplit(ctx context.Context, db *mongo.Database, coll string, pipeline []bson.D) ([]bson.D, error) {
	caps, err := mongopipe.Detect(ctx, db)
	if err != nil {
		return nil, err
	}
	caps.Lookup = false // as the proxy runs it: foreign reads through Env.Lookup
	env := mongopipe.Env{Caps: caps,
		Lookup: func(ctx context.Context, from, field string, values []any, p []bson.D) ([]bson.D, error) {
			var pre []bson.D
			if field != "" {
				pre = append(pre, bson.D{{Key: "$match", Value: bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: values}}}}}})
			}
			return aggregateSplit(ctx, db, from, append(pre, p...))
		}}
	it, err := mongopipe.Run(ctx, pipeline, caps, func(ctx context.Context, push []bson.D) (*mongo.Cursor, error) {
		return db.Collection(coll).Aggregate(ctx, push)
	}, env)
	if err != nil {
		return nil, err
	}
	return mongopipe.Collect(ctx, it, 0)
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
// NL_VERBOSE=1 logs every wrong or declined question; NL_ENGINES=sqlite,mongodb
// limits the engines.
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
		dialects := []Dialect{Postgres, MySQL}
		if set.name == "chinook" {
			// The copies of chinook_pg: scored against its gold rows.
			dialects = append(dialects, SQLite, Mongo)
		}
		for _, dialect := range dialects {
			if e := os.Getenv("NL_ENGINES"); e != "" && !strings.Contains(","+e+",", ","+string(dialect)+",") {
				continue
			}
			suffix := map[Dialect]string{Postgres: "pg", MySQL: "my", SQLite: "pg", Mongo: "pg"}[dialect]
			dbs := map[string]*evalDB{}
			st := evalset.Stats{Threshold: AnswerThreshold}
			tr := NewDeterministic()
			var copyDB *evalDB
			switch dialect {
			case SQLite:
				copyDB = sqliteEvalDB(ctx, t)
			case Mongo:
				copyDB = mongoEvalDB(ctx, t)
			}
			for _, it := range items {
				if only != "" && !strings.Contains(","+only+",", ","+it.ID+",") && it.DB != only {
					continue
				}
				name := fmt.Sprintf(set.db, suffix)
				if it.DB != "" {
					name = "spider_" + it.DB
				}
				goldDialect := dialect
				if dialect == SQLite || dialect == Mongo {
					goldDialect = Postgres
				}
				d := dbs[name]
				if d == nil {
					d = openEvalDB(ctx, t, goldDialect, name)
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
				target := d
				if copyDB != nil {
					target = copyDB
				}
				res, err := tr.Translate(ctx, Request{Question: it.Question, Schema: target.schema})
				if err != nil {
					st.Add(it, false, false, 0)
					if verbose {
						t.Logf("%s %s DECLINED %q: %v", dialect, it.ID, it.Question, err)
					}
					continue
				}
				var got [][]any
				var qerr error
				if dialect == Mongo {
					got, qerr = runMongo(ctx, target.mongo, res.Mongo)
				} else {
					got, qerr = collect(ctx, target.runner, res.SQL)
				}
				ok := qerr == nil && evalset.Match(gold, got, evalset.AsksOrder(it.Question, gsql))
				st.Add(it, true, ok, res.Confidence)
				if ok && verbose && res.Confidence < AnswerThreshold {
					t.Logf("%s %s LOW (%.2f) right under the threshold %q\n   sql:  %s\n   why: %v", dialect, it.ID, res.Confidence, it.Question, res.SQL, res.Explanation)
				}
				if !ok && verbose {
					shown := res.SQL
					if res.Mongo != nil {
						b, _ := res.Mongo.MarshalJSON()
						shown = string(b)
					}
					t.Logf("%s %s WRONG (%.2f) %q\n   query: %s\n   gold: %s\n   err: %v rows %d vs gold %d", dialect, it.ID, res.Confidence, it.Question, shown, gsql, qerr, len(got), len(gold))
				}
			}
			st.Report(t.Logf, set.name, string(dialect))
		}
	}
}
