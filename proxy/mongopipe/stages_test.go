package mongopipe

import "testing"

const stageInput = `[
 {"_id": 1, "cat": "a", "qty": 2, "price": 1.5, "tags": ["x", "y"], "sub": {"k": 1, "m": 2}},
 {"_id": 2, "cat": "b", "qty": 5, "price": 3, "tags": []},
 {"_id": 3, "cat": "a", "qty": {"$numberLong": "4"}, "price": "n/a", "tags": null},
 {"_id": 4, "cat": null, "qty": 1, "tags": "solo"},
 {"_id": 5, "qty": 3}
]`

func TestProjectStages(t *testing.T) {
	runCases(t, stageInput, []pipeCase{
		{"inclusion", `[{"$project": {"qty": 1}}, {"$limit": 2}]`, "{_id: 1, qty: 2}\n{_id: 2, qty: 5}"},
		{"inclusion no id", `[{"$project": {"_id": 0, "cat": true}}, {"$limit": 2}]`, `{cat: "a"}` + "\n" + `{cat: "b"}`},
		{"nested inclusion", `[{"$project": {"sub.k": 1}}, {"$limit": 1}]`, "{_id: 1, sub: {k: 1}}"},
		{"nested spec", `[{"$project": {"sub": {"m": 1}}}, {"$limit": 1}]`, "{_id: 1, sub: {m: 2}}"},
		{"exclusion", `[{"$project": {"tags": 0, "sub": 0, "price": 0}}, {"$limit": 1}]`, `{_id: 1, cat: "a", qty: 2}`},
		{"computed", `[{"$project": {"total": {"$multiply": ["$qty", 2]}, "c": "$cat"}}, {"$limit": 3}]`,
			`{_id: 1, total: 4, c: "a"}` + "\n" + `{_id: 2, total: 10, c: "b"}` + "\n" + `{_id: 3, total: 8L, c: "a"}`},
		{"computed missing omitted", `[{"$match": {"_id": 5}}, {"$project": {"c": "$cat"}}]`, "{_id: 5}"},
		{"computed _id", `[{"$project": {"_id": "$cat"}}, {"$limit": 1}]`, `{_id: "a"}`},
		{"mixed", `[{"$project": {"a": 1, "b": 0}}]`, "error 31254"},
		{"empty", `[{"$project": {}}]`, "error 51272"},
		{"addFields", `[{"$addFields": {"v": {"$multiply": ["$qty", "$price"]}, "sub.z": 9}}, {"$project": {"v": 1, "sub": 1}}, {"$limit": 2}]`,
			"{_id: 1, sub: {k: 1, m: 2, z: 9}, v: 3.0}\n{_id: 2, v: 15, sub: {z: 9}}"},
		{"set overwrites in place", `[{"$set": {"cat": {"$toUpper": "$cat"}}}, {"$project": {"cat": 1}}, {"$limit": 1}]`, `{_id: 1, cat: "A"}`},
		{"set sees input", `[{"$set": {"qty": 10, "q2": "$qty"}}, {"$project": {"qty": 1, "q2": 1}}, {"$limit": 1}]`, "{_id: 1, qty: 10, q2: 2}"},
		{"set REMOVE", `[{"$set": {"qty": "$$REMOVE"}}, {"$project": {"tags": 0, "sub": 0}}, {"$limit": 1}]`, `{_id: 1, cat: "a", price: 1.5}`},
		{"unset", `[{"$unset": ["tags", "sub.k", "price"]}, {"$limit": 1}]`, `{_id: 1, cat: "a", qty: 2, sub: {m: 2}}`},
		{"unset string", `[{"$unset": "qty"}, {"$project": {"qty": 1}}, {"$limit": 1}]`, "{_id: 1}"},
		{"replaceRoot", `[{"$match": {"_id": 1}}, {"$replaceRoot": {"newRoot": "$sub"}}]`, "{k: 1, m: 2}"},
		{"replaceWith", `[{"$match": {"_id": 1}}, {"$replaceWith": {"id": "$_id", "k": "$sub.k"}}]`, "{id: 1, k: 1}"},
		{"replaceRoot not a doc", `[{"$replaceRoot": {"newRoot": "$sub"}}]`, "error 40228"},
	})
}

func TestGroupStage(t *testing.T) {
	runCases(t, stageInput, []pipeCase{
		{"sum widening and count", `[{"$group": {"_id": "$cat", "q": {"$sum": "$qty"}, "n": {"$count": {}}, "one": {"$sum": 1}}}]`,
			`{_id: "a", q: 6L, n: 2, one: 2}` + "\n" + `{_id: "b", q: 5, n: 1, one: 1}` + "\n" + "{_id: null, q: 4, n: 2, one: 2}"},
		{"sum of non-numbers is 0", `[{"$group": {"_id": null, "s": {"$sum": "$tags"}, "p": {"$sum": "$price"}}}]`, "{_id: null, s: 0, p: 4.5}"},
		{"avg ignores non-numbers", `[{"$group": {"_id": "$cat", "a": {"$avg": "$price"}}}]`,
			`{_id: "a", a: 1.5}` + "\n" + `{_id: "b", a: 3.0}` + "\n" + "{_id: null, a: null}"},
		{"avg of ints is double", `[{"$group": {"_id": null, "a": {"$avg": "$qty"}}}]`, "{_id: null, a: 3.0}"},
		{"min max skip null", `[{"$group": {"_id": null, "lo": {"$min": "$price"}, "hi": {"$max": "$price"}, "c": {"$min": "$cat"}}}]`,
			`{_id: null, lo: 1.5, hi: "n/a", c: "a"}`},
		{"first last missing is null", `[{"$group": {"_id": null, "f": {"$first": "$price"}, "l": {"$last": "$price"}}}]`, "{_id: null, f: 1.5, l: null}"},
		{"push skips missing", `[{"$group": {"_id": null, "p": {"$push": "$cat"}}}]`, `{_id: null, p: ["a", "b", "a", null]}`},
		{"addToSet", `[{"$group": {"_id": null, "s": {"$addToSet": "$cat"}, "q": {"$addToSet": {"$toDouble": "$qty"}}}}]`,
			`{_id: null, s: ["a", "b", null], q: [2.0, 5.0, 4.0, 1.0, 3.0]}`},
		{"numeric ids group together", `[{"$group": {"_id": {"$cond": [{"$gt": ["$qty", 3]}, 1.0, 1]}, "n": {"$sum": 1}}}]`, "{_id: 1, n: 5}"},
		{"compound id", `[{"$group": {"_id": {"c": "$cat"}, "n": {"$sum": 1}}}, {"$sort": {"n": -1, "_id.c": 1}}]`,
			"{_id: {c: null}, n: 2}\n" + `{_id: {c: "a"}, n: 2}` + "\n" + `{_id: {c: "b"}, n: 1}`},
		{"compound id of two fields omits missing", `[{"$group": {"_id": {"c": "$cat", "p": "$price"}, "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}, {"$limit": 2}]`,
			"{_id: {}, n: 1}\n{_id: {c: null}, n: 1}"},
		{"inclusion-style id", `[{"$group": {"_id": {"c": 1}}}]`, "error 17390"},
		{"no id", `[{"$group": {"n": {"$sum": 1}}}]`, "error 15955"},
		{"unknown accumulator", `[{"$group": {"_id": null, "x": {"$stdDevPop": "$qty"}}}]`, "error 15952: group accumulator $stdDevPop"},
		{"dotted field", `[{"$group": {"_id": null, "a.b": {"$sum": 1}}}]`, "error 40235"},
		{"empty input", `[{"$match": {"_id": 99}}, {"$group": {"_id": null, "n": {"$sum": 1}}}]`, ""},
	})
}

func TestSortAndPaging(t *testing.T) {
	mixed := `[{"_id": 1, "v": "b"}, {"_id": 2, "v": 10}, {"_id": 3, "v": null}, {"_id": 4},
	 {"_id": 5, "v": [3, 1]}, {"_id": 6, "v": {"a": 1}}, {"_id": 7, "v": true}, {"_id": 8, "v": 2.5},
	 {"_id": 9, "v": []}, {"_id": 10, "v": {"$date": "2020-01-01T00:00:00Z"}}]`
	ids := func(s string) string { return s }
	cases := []pipeCase{
		{"cross-type ascending", `[{"$sort": {"v": 1, "_id": 1}}, {"$project": {"_id": 1}}]`,
			ids("{_id: 9}\n{_id: 3}\n{_id: 4}\n{_id: 5}\n{_id: 8}\n{_id: 2}\n{_id: 1}\n{_id: 6}\n{_id: 7}\n{_id: 10}")},
		{"cross-type descending", `[{"$sort": {"v": -1, "_id": 1}}, {"$project": {"_id": 1}}]`,
			ids("{_id: 10}\n{_id: 7}\n{_id: 6}\n{_id: 1}\n{_id: 2}\n{_id: 5}\n{_id: 8}\n{_id: 3}\n{_id: 4}\n{_id: 9}")},
		{"sort limit", `[{"$sort": {"_id": -1}}, {"$limit": 2}, {"$project": {"_id": 1}}]`, "{_id: 10}\n{_id: 9}"},
		{"dotted key through arrays", `[{"$match": {"_id": {"$lte": 4}}}, {"$set": {"w": {"$cond": [{"$eq": ["$_id", 1]}, [{"k": [5, 0.5]}], [{"k": "$_id"}, {}]]}}}, {"$sort": {"w.k": 1, "_id": 1}}, {"$project": {"_id": 1}}]`,
			"{_id: 2}\n{_id: 3}\n{_id: 4}\n{_id: 1}"},
		{"dotted key through arrays descending", `[{"$match": {"_id": {"$lte": 4}}}, {"$set": {"w": {"$cond": [{"$eq": ["$_id", 1]}, [{"k": [5, 0.5]}], [{"k": "$_id"}, {}]]}}}, {"$sort": {"w.k": -1, "_id": 1}}, {"$project": {"_id": 1}}]`,
			"{_id: 1}\n{_id: 4}\n{_id: 3}\n{_id: 2}"},
		{"skip limit", `[{"$sort": {"_id": 1}}, {"$skip": 3}, {"$limit": 2}, {"$project": {"_id": 1}}]`, "{_id: 4}\n{_id: 5}"},
		{"count", `[{"$match": {"v": {"$exists": true}}}, {"$count": "n"}]`, "{n: 9}"},
		{"count nothing", `[{"$match": {"_id": 99}}, {"$count": "n"}]`, ""},
		{"count bad name", `[{"$count": "$n"}]`, "error 40158"},
		{"bad sort", `[{"$sort": {"v": 2}}]`, "error 15975"},
		{"meta sort", `[{"$sort": {"v": {"$meta": "textScore"}}}]`, "error 15974"},
		{"bad limit", `[{"$limit": 0}]`, "error 15958"},
		{"bad skip", `[{"$skip": -1}]`, "error 15956"},
	}
	runCases(t, mixed, cases)
}

func TestUnwindStage(t *testing.T) {
	runCases(t, stageInput, []pipeCase{
		{"path", `[{"$unwind": "$tags"}, {"$project": {"tags": 1}}]`, `{_id: 1, tags: "x"}` + "\n" + `{_id: 1, tags: "y"}` + "\n" + `{_id: 4, tags: "solo"}`},
		{"preserve", `[{"$unwind": {"path": "$tags", "preserveNullAndEmptyArrays": true, "includeArrayIndex": "i"}}, {"$project": {"tags": 1, "i": 1}}]`,
			`{_id: 1, tags: "x", i: 0L}` + "\n" + `{_id: 1, tags: "y", i: 1L}` + "\n" + "{_id: 2, i: null}\n{_id: 3, tags: null, i: null}\n" +
				`{_id: 4, tags: "solo", i: null}` + "\n" + "{_id: 5, i: null}"},
		{"no dollar", `[{"$unwind": "tags"}]`, "error 28818"},
		{"bad option", `[{"$unwind": {"path": "$tags", "x": 1}}]`, "error 28811"},
	})
}

func TestUnknownStageFailsClosed(t *testing.T) {
	runCases(t, stageInput, []pipeCase{
		{"facet", `[{"$facet": {"a": [{"$count": "n"}]}}]`, "error 40324: pipeline stage $facet is not supported"},
		{"unionWith", `[{"$match": {}}, {"$unionWith": "other"}]`, "error 40324: pipeline stage $unionWith"},
		{"two keys", `[{"$match": {}, "$limit": 1}]`, "error 40323"},
		{"no dollar", `[{"match": {}}]`, "error 40324: unrecognized pipeline stage name"},
	})
}
