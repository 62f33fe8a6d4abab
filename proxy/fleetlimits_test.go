package proxy

import (
	"math"
	"strconv"
	"testing"
)

func TestProportionalShare(t *testing.T) {
	live := map[string]bool{"a": true, "b": true, "c": true}
	all := map[string]string{"a": "10", "b": "10", "c": "10"}
	if s := proportionalShare(60, "a", 10, all, live); math.Abs(s-20) > 1e-9 {
		t.Errorf("equal demand: %v, want 20", s)
	}
	// Each member computes its own share; together they never exceed the total.
	all = map[string]string{"a": "100", "b": "0", "c": "5"}
	sum := 0.0
	for id, v := range map[string]float64{"a": 100, "b": 0, "c": 5} {
		sum += proportionalShare(60, id, v, all, live)
	}
	if math.Abs(sum-60) > 1e-6 {
		t.Errorf("shares add up to %v, want 60", sum)
	}
	// A member without traffic still gets a floor, so it can start.
	if s := proportionalShare(60, "b", 0, all, live); s <= 0 {
		t.Errorf("idle member's share %v", s)
	}
	// A dead member (not live) does not count.
	if s := proportionalShare(60, "a", 10, map[string]string{"a": "10", "dead": "10"}, map[string]bool{"a": true, "b": true}); s != 60 {
		t.Errorf("with a dead member: %v, want 60", s)
	}
}

func TestConnectionShare(t *testing.T) {
	live := map[string]bool{"a": true, "b": true, "c": true}
	for _, demand := range []map[string]float64{
		{"a": 3, "b": 0, "c": 0},
		{"a": 3, "b": 3, "c": 1},
		{"a": 0, "b": 0, "c": 0},
		{"a": 7, "b": 2, "c": 9},
	} {
		for _, total := range []int{3, 4, 10} {
			all := map[string]string{}
			for id, d := range demand {
				all[id] = strconv.FormatFloat(d, 'f', 0, 64)
			}
			sum := 0
			for id, d := range demand {
				n := connectionShare(total, id, d, all, live)
				if n < 1 {
					t.Errorf("%v total %d: %s gets %d", demand, total, id, n)
				}
				sum += n
			}
			if sum > total {
				t.Errorf("%v total %d: shares add up to %d", demand, total, sum)
			}
		}
	}
}
