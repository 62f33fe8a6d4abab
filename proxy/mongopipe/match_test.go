package mongopipe

import (
	"strings"
	"testing"
)

const matchInput = `[
 {"_id": 1, "a": 1, "s": "apple", "tags": ["x", "y"]},
 {"_id": 2, "a": 2.5, "s": "Banana", "tags": []},
 {"_id": 3, "a": {"$numberLong": "3"}, "s": null, "sub": {"k": 1}},
 {"_id": 4, "a": "10", "arr": [{"k": 1}, {"k": 5}]},
 {"_id": 5}
]`

// ids prints the _id of each matched document.
func matchIDs(t *testing.T, filter string) string {
	t.Helper()
	got, err := runLocal(t, `[{"$match": `+filter+`}, {"$project": {"_id": 1}}]`, parseDocs(t, matchInput), Env{})
	if err != nil {
		return showErr(err)
	}
	return strings.NewReplacer("{_id: ", "", "}", "", "\n", ",").Replace(got)
}

func TestMatchOperators(t *testing.T) {
	cases := []struct{ filter, want string }{
		{`{"a": 1}`, "1"},
		{`{"a": 1.0}`, "1"}, // 1 == 1.0 across numeric types
		{`{"a": {"$eq": 3}}`, "3"},
		{`{"a": {"$ne": 1}}`, "2,3,4,5"},
		{`{"a": {"$gt": 1}}`, "2,3"}, // "10" is a string: type bracketing
		{`{"a": {"$gte": 1, "$lt": 3}}`, "1,2"},
		{`{"a": {"$lte": 2.5}}`, "1,2"},
		{`{"a": {"$gt": "1"}}`, "4"},
		{`{"a": {"$in": [1, "10"]}}`, "1,4"},
		{`{"a": {"$nin": [1, "10"]}}`, "2,3,5"},
		{`{"s": null}`, "3,4,5"}, // null matches missing
		{`{"s": {"$exists": false}}`, "4,5"},
		{`{"s": {"$exists": true}}`, "1,2,3"},
		{`{"s": {"$regex": "^b", "$options": "i"}}`, "2"},
		{`{"s": {"$regex": "an"}}`, "2"},
		{`{"s": {"$not": {"$regex": "^a"}}}`, "2,3,4,5"},
		{`{"a": {"$not": {"$gt": 1}}}`, "1,4,5"},
		{`{"tags": "x"}`, "1"}, // array contains
		{`{"tags": []}`, "2"},
		{`{"tags": ["x", "y"]}`, "1"},
		{`{"arr.k": 5}`, "4"},
		{`{"arr.1.k": 5}`, "4"},
		{`{"sub.k": 1}`, "3"},
		{`{"$or": [{"a": 1}, {"s": "Banana"}]}`, "1,2"},
		{`{"$and": [{"a": {"$exists": true}}, {"a": {"$type": "x"}}]}`, "error 2: query operator $type"},
		{`{"$nor": [{"a": 1}, {"s": "Banana"}]}`, "3,4,5"},
		{`{"$expr": {"$gt": ["$a", 2]}}`, "2,3,4"}, // expression order: string > number
		{`{"$expr": {"$eq": ["$s", null]}}`, "3"},  // missing is not null in expressions
		{`{"$where": "1"}`, "error 2: query operator $where"},
		{`{"s": {"$regex": "(?<=a)p"}}`, "error 2: regular expression"},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			got := matchIDs(t, tc.filter)
			if strings.HasPrefix(tc.want, "error") {
				if !strings.HasPrefix(got, tc.want) {
					t.Fatalf("got %s, want %s…", got, tc.want)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}
