package test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPGSecListenWhileIdle: a client that LISTENs gets notifications while
// it sends nothing, as on a direct connection; UNLISTEN of its last channel
// gives the backend connection back to the pool.
func TestPGSecListenWhileIdle(t *testing.T) {
	f := newSecFixture(t, "{size: 1, timeout: 1s}", "")
	ctx := context.Background()
	c := f.rp.connect(t, "adam", "adam-pw", "sec")
	for _, q := range []string{"LISTEN jobs", "LISTEN other"} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	direct, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/"+f.db+"?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(ctx)
	for i, payload := range []string{"first", "second"} {
		got := make(chan string, 1)
		go func() {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			n, err := c.WaitForNotification(wctx)
			if err != nil {
				got <- "error: " + err.Error()
				return
			}
			got <- n.Channel + ":" + n.Payload
		}()
		time.Sleep(200 * time.Millisecond) // the client is idle, waiting
		if _, err := direct.Exec(ctx, "SELECT pg_notify('jobs', $1)", payload); err != nil {
			t.Fatal(err)
		}
		if g := <-got; g != "jobs:"+payload {
			t.Fatalf("notification %d: %s", i, g)
		}
	}
	// The session still answers queries between notifications.
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("query after notifications: %v", err)
	}
	// The listening session holds the tenant's only connection.
	o := f.rp.connect(t, "eddie", "eddie-pw", "sec")
	if _, err := o.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("another client got the listening session's connection")
	}
	if _, err := c.Exec(ctx, "UNLISTEN jobs"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("the connection was released while still listening on a channel")
	}
	if _, err := c.Exec(ctx, "UNLISTEN *"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("after UNLISTEN *: %v", err)
	}
}
