package policy

import "testing"

func TestFingerprintGroupsLiterals(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		same := [][2]string{
			{"SELECT id FROM items WHERE id IN (1, 2)", "SELECT id FROM items WHERE id IN (7, 8, 9, 10)"},
			{"SELECT * FROM t WHERE a = 1 AND b = 'x'", "select *  from t where a = 42 and b = 'yy'"},
			{"UPDATE t SET a = 1 WHERE id = 2", "UPDATE t SET a = 5 WHERE id = 9"},
		}
		for _, p := range same {
			a, _ := Fingerprint(d, p[0])
			b, _ := Fingerprint(d, p[1])
			if a == "" || a != b {
				t.Errorf("%s: %q and %q: %q vs %q", d, p[0], p[1], a, b)
			}
		}
		apart := [][2]string{
			{"SELECT id FROM items WHERE id = 1", "SELECT id FROM orders WHERE id = 1"},
			{"SELECT a FROM t", "SELECT b FROM t"},
			{"DELETE FROM t WHERE id = 1", "SELECT * FROM t WHERE id = 1"},
		}
		for _, p := range apart {
			a, _ := Fingerprint(d, p[0])
			b, _ := Fingerprint(d, p[1])
			if a == b {
				t.Errorf("%s: %q and %q share %q", d, p[0], p[1], a)
			}
		}
		if ex := Example(d, "SELECT name FROM users WHERE email = 'a@b.c' AND id = 12345"); ex == "" ||
			containsAny(ex, "a@b.c", "12345") {
			t.Errorf("%s: example %q keeps literals", d, ex)
		}
	}
	for _, d := range []Dialect{Postgres, MySQL} {
		ex := Example(d, "/* hunter2 */ SELECT a /* secret-token */ FROM t -- password=abc\n WHERE b = 'x'")
		if ex == "" || containsAny(ex, "hunter2", "secret-token", "password", "'x'") {
			t.Errorf("%s: example %q keeps comments or literals", d, ex)
		}
	}
	if _, ok := Fingerprint(Postgres, "SELEC oops"); ok {
		t.Error("an unparsable text got a fingerprint")
	}
}

func containsAny(s string, parts ...string) bool {
	for _, p := range parts {
		for i := 0; i+len(p) <= len(s); i++ {
			if s[i:i+len(p)] == p {
				return true
			}
		}
	}
	return false
}

// TestCheckCarriesDigest: the decision carries the fingerprint, also when
// answered from the exact-text and the literal-template cache.
func TestCheckCarriesDigest(t *testing.T) {
	e := NewEngine(1000)
	s := Subject{User: "u", Scope: &Scope{Tenant: "t", Isolation: IsolationDatabase}, Role: &Role{Name: "analyst", Access: AccessRead}, Version: 1}
	want, _ := Fingerprint(Postgres, "SELECT a FROM t WHERE b = 1")
	for _, q := range []string{"SELECT a FROM t WHERE b = 1", "SELECT a FROM t WHERE b = 1", "SELECT a FROM t WHERE b = 2"} {
		dec, err := e.Check(s, Postgres, q)
		if err != nil {
			t.Fatal(err)
		}
		if dec.Digest != want {
			t.Fatalf("%q: digest %q, want %q", q, dec.Digest, want)
		}
	}
	v := Subject{User: "u", Scope: s.Scope, Role: &Role{Name: "viewer", Access: AccessRead, MaxRows: 5}, Version: 1}
	for _, q := range []string{"SELECT a FROM t WHERE b = 1", "SELECT a FROM t WHERE b = 3"} {
		dec, err := e.Check(v, Postgres, q)
		if err != nil {
			t.Fatal(err)
		}
		if !dec.Rewritten || dec.Digest != want {
			t.Fatalf("viewer %q: rewritten %v digest %q, want %q", q, dec.Rewritten, dec.Digest, want)
		}
	}
}
