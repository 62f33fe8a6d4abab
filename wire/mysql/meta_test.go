package mysql

import "testing"

var metaSeeds = []string{
	"SELECT c FROM sbtest1 WHERE id=1",
	"select * from information_schema.tables",
	"SELECT * FROM INFORMATION_SCHEMA.TABLES",
	"select * from Performance_Schema.threads",
	"SELECT DATABASE()",
	"select database \t\n(\r)",
	"select schema ()",
	"select myschema(1)",
	"select database_name from t",
	"select `database` from t",
	"select 'database' (x)",
	"select information-schema",
	"SELECT ſchema()",
	"select informatıon_schema.x",
	"select \vdatabase\v()",
	"schema",
	"",
}

// metaText must answer as metaRe does, on any text.
func TestMetaTextMatchesRegexp(t *testing.T) {
	for _, s := range metaSeeds {
		if got, want := metaText(s), metaRe.MatchString(s); got != want {
			t.Errorf("metaText(%q) = %v, metaRe says %v", s, got, want)
		}
	}
}

func FuzzMetaText(f *testing.F) {
	for _, s := range metaSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := metaText(s), metaRe.MatchString(s); got != want {
			t.Fatalf("metaText(%q) = %v, metaRe says %v", s, got, want)
		}
	})
}
