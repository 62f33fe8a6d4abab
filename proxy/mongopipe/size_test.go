package mongopipe

import (
	"strings"
	"testing"
)

// Values that double with every stage stop at the BSON size limit.
func TestDocSizeLimit(t *testing.T) {
	stages := func(n int, step string) string {
		return "[" + strings.Repeat(step+",", n) + `{"$project": {"_id": 1}}]`
	}
	runCases(t, `[{"_id": 1, "s": "ab"}]`, []pipeCase{
		// 2 bytes doubled 20 times is 2 MiB: under the limit.
		{"string under the limit", stages(20, `{"$set": {"s": {"$concat": ["$s", "$s"]}}}`), "{_id: 1}"},
		{"string over the limit", stages(24, `{"$set": {"s": {"$concat": ["$s", "$s"]}}}`), "error 10334"},
		{"document over the limit", stages(40, `{"$set": {"x": "$$ROOT", "y": "$$ROOT"}}`), "error 10334"},
		{"document copies under the limit", stages(4, `{"$set": {"x": "$$ROOT", "y": "$$ROOT"}}`), "{_id: 1}"},
	})
}

func TestDocBytes(t *testing.T) {
	d := parseDocs(t, `[{"a": "xyz", "b": [1, {"c": "de"}]}]`)[0]
	if n := docBytes(d, MaxDocBytes); n < 20 || n > 80 {
		t.Errorf("docBytes %d, want about the BSON size (46)", n)
	}
	// The walk stops once past the limit.
	if n := docBytes(d, 1); n <= 1 || n > 20 {
		t.Errorf("docBytes with limit 1: %d", n)
	}
}
