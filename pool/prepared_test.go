package pool

import (
	"reflect"
	"testing"
)

func TestPreparedSetEvictsLeastRecentlyUsed(t *testing.T) {
	p := NewPreparedSet(3)
	for _, n := range []string{"a", "b", "c"} {
		if ev := p.Add(n, nil); ev != nil {
			t.Fatalf("Add(%s) evicted %v", n, ev)
		}
	}
	p.Touch("a")
	if ev := p.Add("d", nil); !reflect.DeepEqual(ev, []string{"b"}) {
		t.Fatalf("evicted %v, want [b]", ev)
	}
	if p.Has("b") || !p.Has("a") || !p.Has("d") || p.Len() != 3 {
		t.Fatalf("after eviction: a=%v b=%v d=%v len=%d", p.Has("a"), p.Has("b"), p.Has("d"), p.Len())
	}
	p.Restore("b")
	if ev := p.Add("e", nil); !reflect.DeepEqual(ev, []string{"b", "c"}) {
		t.Fatalf("evicted %v, want [b c]", ev)
	}
	if ev := p.Add("f", func(n string) bool { return n == "d" }); !reflect.DeepEqual(ev, []string{"a"}) {
		t.Fatalf("evicted %v, want [a] (d is in use)", ev)
	}
	p.Delete("a")
	p.Clear()
	if p.Len() != 0 || p.Has("d") {
		t.Fatal("Clear left names")
	}
}
