package nlp

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	_ "modernc.org/sqlite"

	"github.com/tenantproxy/tenantproxy/nlp/evalset"
)

// Chinook copied from chinook_pg into FerretDB and into an SQLite file,
// once per test binary: the same names and rows, so the Postgres gold
// results are the gold results of the copies.

func chinookPG(t testing.TB) *pgx.Conn {
	t.Helper()
	if _, err := os.Stat(filepath.Join("..", "..", "shared", "nl-eval", "chinook.jsonl")); err != nil {
		t.Skip("../shared is absent")
	}
	ensureChinook(t)
	c, err := pgx.Connect(context.Background(), "postgres://postgres@127.0.0.1:5432/chinook_pg?sslmode=disable")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chinook_pg: %v", err)
		}
		t.Skipf("chinook_pg: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

var chinookLoad struct {
	sync.Once
	err error
}

// ensureChinook loads chinook_pg and chinook_my from ../shared when the
// servers do not have them yet (a fresh machine). Without the servers the
// tests that need them skip, or fail under CI=true.
func ensureChinook(t testing.TB) {
	t.Helper()
	datasets := filepath.Join("..", "..", "shared", "datasets")
	if _, err := os.Stat(datasets); err != nil {
		return
	}
	chinookLoad.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		chinookLoad.err = evalset.EnsureChinook(ctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", datasets)
	})
	if chinookLoad.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("loading Chinook: %v", chinookLoad.err)
		}
		t.Skipf("loading Chinook: %v", chinookLoad.err)
	}
}

var chinookMongoOnce struct {
	sync.Once
	db  *mongo.Database
	err error
}

// chinookMongo is Chinook in FerretDB (database chinook of the shared server).
func chinookMongo(t testing.TB) *mongo.Database {
	t.Helper()
	pg := chinookPG(t)
	scratch := mongoDB(t) // starts the server, or skips
	chinookMongoOnce.Do(func() {
		db := scratch.Client().Database("chinook")
		_ = db.Drop(context.Background())
		chinookMongoOnce.db, chinookMongoOnce.err = db, evalset.CopyToMongo(context.Background(), pg, db)
	})
	if chinookMongoOnce.err != nil {
		t.Fatal(chinookMongoOnce.err)
	}
	return chinookMongoOnce.db
}

var chinookSQLiteOnce struct {
	sync.Once
	db  *sql.DB
	err error
}

// chinookSQLite is Chinook in an SQLite file, left open for the process.
func chinookSQLite(t testing.TB) *sql.DB {
	t.Helper()
	pg := chinookPG(t)
	chinookSQLiteOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nlp-chinook-")
		if err != nil {
			chinookSQLiteOnce.err = err
			return
		}
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "chinook.db"))
		if err != nil {
			chinookSQLiteOnce.err = err
			return
		}
		db.SetMaxOpenConns(1)
		chinookSQLiteOnce.db, chinookSQLiteOnce.err = db, evalset.CopyToSQLite(context.Background(), pg, db)
	})
	if chinookSQLiteOnce.err != nil {
		t.Fatal(chinookSQLiteOnce.err)
	}
	return chinookSQLiteOnce.db
}

// TestMongoChinookCopy checks the copy against chinook_pg (row counts, a
// composite key, a timestamp) and what introspection infers of it.
func TestMongoChinookCopy(t *testing.T) {
	db := chinookMongo(t)
	pg := chinookPG(t)
	ctx := context.Background()
	for _, tb := range []string{"artist", "album", "track", "invoice", "invoice_line", "playlist_track", "employee"} {
		var want int64
		if err := pg.QueryRow(ctx, "SELECT count(*) FROM "+tb).Scan(&want); err != nil {
			t.Fatal(err)
		}
		got, err := db.Collection(tb).CountDocuments(ctx, bson.D{})
		if err != nil || got != want {
			t.Errorf("%s: %d documents (%v), Postgres has %d rows", tb, got, err, want)
		}
	}
	var pt bson.M
	if err := db.Collection("playlist_track").FindOne(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "playlist_id", Value: 1}, {Key: "track_id", Value: 3402}}}}).Decode(&pt); err != nil {
		t.Errorf("playlist_track by composite _id: %v", err)
	}
	var inv struct {
		Date  bson.DateTime `bson:"invoice_date"`
		Total float64       `bson:"total"`
	}
	if err := db.Collection("invoice").FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Decode(&inv); err != nil {
		t.Fatal(err)
	}
	var wantTotal float64
	var wantDate string
	_ = pg.QueryRow(ctx, "SELECT total::float8, to_char(invoice_date, 'YYYY-MM-DD HH24:MI:SS') FROM invoice WHERE invoice_id = 1").Scan(&wantTotal, &wantDate)
	if inv.Total != wantTotal || inv.Date.Time().UTC().Format("2006-01-02 15:04:05") != wantDate {
		t.Errorf("invoice 1: %v %v, Postgres %v %v", inv.Total, inv.Date.Time().UTC(), wantTotal, wantDate)
	}

	s, err := IntrospectMongo(ctx, db, MongoIntrospectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]bool{}
	for _, tb := range s.Tables {
		for _, fk := range tb.ForeignKeys {
			refs[tb.Name+"."+fk.Columns[0]+"->"+fk.RefTable+"."+fk.RefColumns[0]] = true
		}
	}
	for _, want := range []string{"track.album_id->album._id", "track.genre_id->genre._id", "track.media_type_id->media_type._id",
		"album.artist_id->artist._id", "invoice.customer_id->customer._id", "invoice_line.invoice_id->invoice._id",
		"invoice_line.track_id->track._id", "playlist_track.playlist_id->playlist._id", "playlist_track.track_id->track._id"} {
		if !refs[want] {
			t.Errorf("reference %s not inferred; got %v", want, refs)
		}
	}
	if c := s.Table("invoice").Column("invoice_date"); c == nil || c.Kind != KindTime {
		t.Errorf("invoice.invoice_date: %+v", c)
	}
	if c := s.Table("customer").Column("country"); c == nil || !c.Indexed {
		t.Errorf("customer.country value index: %+v", c)
	}
}
