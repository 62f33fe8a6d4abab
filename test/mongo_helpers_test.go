package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// A MongoDB-wire server for the MongoDB tenants' tests: FerretDB 1.24
// (Go, with its SQLite handler), built once by ferretdb/build.sh and
// started per test on free ports in a temporary directory.

var ferretBin struct {
	once sync.Once
	path string
	err  error
}

// skipOrFail skips, or under CI=true fails, the test.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// mongoServer is a running FerretDB and a driver client on it (the
// control: what the server holds, read without the proxy).
type mongoServer struct {
	Addr   string
	Client *mongo.Client
	// Stop kills the server (an outage).
	Stop func()
}

// startFerretDB starts FerretDB for the test and stops it at its end.
func startFerretDB(t testing.TB) *mongoServer {
	t.Helper()
	ferretBin.once.Do(func() {
		var out, errb bytes.Buffer
		cmd := exec.Command("bash", "ferretdb/build.sh")
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			ferretBin.err = fmt.Errorf("ferretdb/build.sh: %v: %s", err, errb.String())
			return
		}
		ferretBin.path = strings.TrimSpace(out.String())
	})
	if ferretBin.err != nil {
		skipOrFail(t, "FerretDB is not available: %v", ferretBin.err)
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	cmd := exec.Command(ferretBin.path, "--handler=sqlite", "--sqlite-url=file:"+dir+"/", "--state-dir="+dir,
		"--listen-addr="+addr, "--debug-addr="+freeAddr(t), "--telemetry=disable", "--log-level=ERROR")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		skipOrFail(t, "FerretDB does not start: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-exited:
			skipOrFail(t, "FerretDB exited at start: %s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			skipOrFail(t, "FerretDB did not listen on %s within 20s: %s", addr, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + addr + "/"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = client.Disconnect(ctx)
	})
	return &mongoServer{Addr: addr, Client: client, Stop: stop}
}

// dbName is a fresh database name for prefix.
func dbName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// insert adds docs (Extended JSON, relaxed) to db.coll, directly.
func (m *mongoServer) insert(t testing.TB, db, coll string, docs ...string) {
	t.Helper()
	var ds []any
	for _, js := range docs {
		var d bson.D
		if err := bson.UnmarshalExtJSON([]byte(js), false, &d); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		ds = append(ds, d)
	}
	if _, err := m.Client.Database(db).Collection(coll).InsertMany(context.Background(), ds); err != nil {
		t.Fatalf("insert into %s.%s: %v", db, coll, err)
	}
}

// count counts db.coll's documents matching filter (Extended JSON), directly.
func (m *mongoServer) count(t testing.TB, db, coll, filter string) int64 {
	t.Helper()
	var f bson.D
	if err := bson.UnmarshalExtJSON([]byte(filter), false, &f); err != nil {
		t.Fatal(err)
	}
	n, err := m.Client.Database(db).Collection(coll).CountDocuments(context.Background(), f)
	if err != nil {
		t.Fatalf("count %s.%s: %v", db, coll, err)
	}
	return n
}
