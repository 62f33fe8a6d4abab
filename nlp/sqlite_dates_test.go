package nlp

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tenantproxy/tenantproxy/nlp/evalset"
)

// TestSQLiteDates asks date questions of the SQLite copy of Chinook and of
// chinook_pg itself (the control): the same rows, from SQL that SQLite runs
// (strftime, not EXTRACT).
func TestSQLiteDates(t *testing.T) {
	lite := myRunner{chinookSQLite(t)}
	pg := pgRunner{chinookPG(t)}
	ctx := context.Background()
	ls, err := Introspect(ctx, lite, SQLite, RowScope{})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := Introspect(ctx, pg, Postgres, RowScope{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 12, 23, 10, 0, 0, 0, time.UTC)
	for _, q := range []string{
		"How many invoices were there in 2023?",
		"Total sales per month in 2024",
		"Number of invoices per year",
		"Total sales per quarter in 2022",
		"Employees born before 1960",
		"Employees hired after 2002",
		"How many invoices in the last 30 days?",
		"Invoices in the last 2 weeks",
	} {
		t.Run(q, func(t *testing.T) {
			lt, err := NewDeterministic().Translate(ctx, Request{Question: q, Schema: ls, Now: now})
			if err != nil {
				t.Fatalf("sqlite: %v", err)
			}
			pt, err := NewDeterministic().Translate(ctx, Request{Question: q, Schema: ps, Now: now})
			if err != nil {
				t.Fatalf("postgres: %v", err)
			}
			if strings.Contains(lt.SQL, "EXTRACT") {
				t.Errorf("SQLite has no EXTRACT: %s", lt.SQL)
			}
			got, err := collect(ctx, lite, lt.SQL)
			if err != nil {
				t.Fatalf("sqlite: %v\n%s", err, lt.SQL)
			}
			want, err := collect(ctx, pg, pt.SQL)
			if err != nil {
				t.Fatalf("postgres: %v\n%s", err, pt.SQL)
			}
			if len(want) == 0 || !evalset.Match(want, got, strings.Contains(pt.SQL, "ORDER BY")) {
				t.Errorf("rows differ (%d on SQLite, %d on Postgres)\n sqlite:   %s\n postgres: %s\n %v\n %v", len(got), len(want), lt.SQL, pt.SQL, got, want)
			}
		})
	}
}
