package proxy

import "testing"

// TestSourceKey: IPv4 addresses count alone, IPv6 ones by their /64, so
// that one site cannot dodge the per-address caps and lockouts by rotating
// addresses of its prefix.
func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5432":           "127.0.0.1",
		"[2001:db8:1:2:3:4:5:6]:9": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ff::1]:9":   "2001:db8:1:2::/64",
		"[::ffff:10.0.0.1]:1":      "10.0.0.1",
		"pipe":                     "pipe",
	} {
		if got := hostOf(in); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", in, got, want)
		}
	}
}
