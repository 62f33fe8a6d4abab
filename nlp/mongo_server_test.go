package nlp

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The MongoDB tests run against FerretDB 1.24 (a MongoDB-wire server over
// SQLite) built by test/ferretdb/build.sh and started once per test binary.
// When it cannot be built or started the tests skip, or fail under CI=true.

var ferret struct {
	once   sync.Once
	client *mongo.Client
	err    error
	stop   func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if ferret.stop != nil {
		ferret.stop()
	}
	os.Exit(code)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startFerret() (*mongo.Client, func(), error) {
	out, err := exec.Command("bash", filepath.Join("..", "test", "ferretdb", "build.sh")).Output()
	if err != nil {
		return nil, nil, fmt.Errorf("build ferretdb: %w", err)
	}
	bin := strings.TrimSpace(string(out))
	dir, err := os.MkdirTemp("", "nlp-ferret-")
	if err != nil {
		return nil, nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	debug, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, "--handler=sqlite", "--sqlite-url=file:"+dir+"/", "--state-dir="+dir,
		fmt.Sprintf("--listen-addr=127.0.0.1:%d", port), fmt.Sprintf("--debug-addr=127.0.0.1:%d", debug),
		"--telemetry=disable", "--log-level=ERROR")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(fmt.Sprintf("mongodb://127.0.0.1:%d/", port)).
		SetServerSelectionTimeout(2 * time.Second))
	if err != nil {
		stop()
		return nil, nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = client.Ping(ctx, nil)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = client.Disconnect(context.Background())
			stop()
			return nil, nil, fmt.Errorf("ferretdb did not answer: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return client, func() { _ = client.Disconnect(context.Background()); stop() }, nil
}

// mongoDB returns a fresh database of the shared FerretDB, dropped after
// the test.
func mongoDB(t testing.TB) *mongo.Database {
	t.Helper()
	ferret.once.Do(func() { ferret.client, ferret.stop, ferret.err = startFerret() })
	if ferret.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ferretdb: %v", ferret.err)
		}
		t.Skipf("ferretdb: %v", ferret.err)
	}
	name := fmt.Sprintf("t%d", time.Now().UnixNano())
	db := ferret.client.Database(name)
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	return db
}
