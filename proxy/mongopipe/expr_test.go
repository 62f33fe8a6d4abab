package mongopipe

import (
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

const exprDoc = `{"_id": 1, "i": 7, "j": 2, "l": {"$numberLong": "9000000000"}, "d": 2.5, "s": "Hello",
 "n": null, "arr": [1, 2, 3], "docs": [{"k": 1}, {"k": 2}, {}], "t": {"$date": "2024-03-09T17:04:05.123Z"},
 "big": 2147483647, "u": "ÄbC"}`

func evalExprJSON(t *testing.T, exprJSON string) string {
	t.Helper()
	doc := parseVal(t, exprDoc).(bson.D)
	d, err := normalizeDoc(bson.D{{Key: "e", Value: parseVal(t, exprJSON)}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := compileExpr(d[0].Value)
	if err != nil {
		return showErr(err)
	}
	v, err := e(doc)
	if err != nil {
		return showErr(err)
	}
	return show(v)
}

func TestExpressions(t *testing.T) {
	cases := []struct{ expr, want string }{
		{`"$i"`, "7"},
		{`"$nope"`, "missing"},
		{`"$docs.k"`, "[1, 2]"},
		{`"$$ROOT.s"`, `"Hello"`},
		{`"$$NOW"`, "error 168: variable $$NOW"},
		{`{"$literal": "$i"}`, `"$i"`},
		{`{"x": "$i", "y": "$nope"}`, "{x: 7}"},
		{`["$i", "$nope"]`, "[7, null]"},
		// arithmetic and numeric widening
		{`{"$add": ["$i", "$j"]}`, "9"},
		{`{"$add": ["$big", 1]}`, "2147483648L"},
		{`{"$add": ["$i", "$l"]}`, "9000000007L"},
		{`{"$add": ["$i", "$d"]}`, "9.5"},
		{`{"$add": ["$i", "$nope"]}`, "null"},
		{`{"$add": ["$t", 1000]}`, "date(2024-03-09T17:04:06.123Z)"},
		{`{"$add": ["$s", 1]}`, "error 14: $add only supports numeric or date types, not string"},
		{`{"$subtract": ["$i", "$j"]}`, "5"},
		{`{"$subtract": ["$t", {"$date": "2024-03-09T17:04:05.000Z"}]}`, "123L"},
		{`{"$multiply": ["$i", "$j", "$d"]}`, "35.0"},
		{`{"$multiply": ["$big", "$big"]}`, "4611686014132420609L"},
		{`{"$divide": ["$i", "$j"]}`, "3.5"},
		{`{"$divide": [6, 3]}`, "2.0"},
		{`{"$divide": ["$i", 0]}`, "error 16608"},
		{`{"$divide": ["$n", 2]}`, "null"},
		{`{"$mod": ["$i", "$j"]}`, "1"},
		{`{"$mod": [-7, 2]}`, "-1"},
		{`{"$mod": ["$d", 1]}`, "0.5"},
		{`{"$mod": ["$i", 0]}`, "error 16610"},
		{`{"$abs": -3}`, "3"},
		{`{"$abs": -2.5}`, "2.5"},
		{`{"$abs": null}`, "null"},
		{`{"$round": [2.5]}`, "2.0"},
		{`{"$round": [3.5]}`, "4.0"},
		{`{"$round": [1234.5678, 2]}`, "1234.57"},
		{`{"$round": [25, -1]}`, "20"},
		{`{"$round": [35, -1]}`, "40"},
		{`{"$round": ["$i"]}`, "7"},
		{`{"$add": [{"$numberDecimal": "1.5"}, 1]}`, "error 14: $add on decimal128"},
		// strings
		{`{"$concat": ["$s", " ", "world"]}`, `"Hello world"`},
		{`{"$concat": ["$s", "$nope"]}`, "null"},
		{`{"$concat": ["$s", 1]}`, "error 16702"},
		{`{"$toLower": "$s"}`, `"hello"`},
		{`{"$toUpper": "$u"}`, `"ÄBC"`},
		{`{"$toLower": "$nope"}`, `""`},
		{`{"$toUpper": "$i"}`, `"7"`},
		{`{"$substrCP": ["$s", 1, 3]}`, `"ell"`},
		{`{"$substrCP": ["$u", 0, 1]}`, `"Ä"`},
		{`{"$substrCP": ["$s", 10, 3]}`, `""`},
		{`{"$substrCP": ["$s", -1, 3]}`, "error 34452"},
		{`{"$toString": "$d"}`, `"2.5"`},
		{`{"$toString": 3.0}`, `"3"`},
		{`{"$toString": 3.14159265}`, `"3.14159"`},
		{`{"$toString": 1e6}`, `"1e+06"`},
		{`{"$toString": 123456.0}`, `"123456"`},
		{`{"$toString": -0.0}`, `"-0"`},
		{`{"$toString": {"$divide": [1, 0.0000001]}}`, `"1e+07"`},
		{`{"$toUpper": 0.000012345}`, `"1.2345E-05"`},
		{`{"$toString": "$l"}`, `"9000000000"`},
		{`{"$toString": "$t"}`, `"2024-03-09T17:04:05.123Z"`},
		{`{"$toString": true}`, `"true"`},
		{`{"$toString": "$nope"}`, "null"},
		{`{"$toDouble": "$i"}`, "7.0"},
		{`{"$toDouble": "2.75"}`, "2.75"},
		{`{"$toDouble": "x"}`, "error 241"},
		{`{"$toDouble": true}`, "1.0"},
		// comparison and logic
		{`{"$eq": ["$i", 7.0]}`, "true"},
		{`{"$ne": ["$i", 7]}`, "false"},
		{`{"$gt": ["$s", "$i"]}`, "true"}, // strings sort after numbers
		{`{"$lt": ["$nope", null]}`, "true"},
		{`{"$gte": ["$j", 2]}`, "true"},
		{`{"$lte": ["$arr", [1, 2]]}`, "false"},
		{`{"$and": ["$i", {"$gt": ["$d", 2]}]}`, "true"},
		{`{"$and": ["$i", 0]}`, "false"},
		{`{"$or": ["$n", "$nope", ""]}`, "true"}, // "" is true
		{`{"$or": []}`, "false"},
		{`{"$not": ["$n"]}`, "true"},
		{`{"$cond": [{"$gt": ["$i", 5]}, "big", "small"]}`, `"big"`},
		{`{"$cond": {"if": "$n", "then": 1, "else": 2}}`, "2"},
		{`{"$cond": {"if": "$n", "then": 1}}`, "error 9: missing 'else'"},
		{`{"$ifNull": ["$nope", "$n", "fallback"]}`, `"fallback"`},
		{`{"$ifNull": ["$i", "fallback"]}`, "7"},
		// dates
		{`{"$year": "$t"}`, "2024"},
		{`{"$month": "$t"}`, "3"},
		{`{"$dayOfMonth": "$t"}`, "9"},
		{`{"$dayOfMonth": {"date": "$t", "timezone": "+08:00"}}`, "10"},
		{`{"$year": "$nope"}`, "null"},
		{`{"$year": "$s"}`, "error 16006"},
		{`{"$dateToString": {"format": "%Y-%m-%d %H:%M:%S.%L", "date": "$t"}}`, `"2024-03-09 17:04:05.123"`},
		{`{"$dateToString": {"date": "$t"}}`, `"2024-03-09T17:04:05.123Z"`},
		{`{"$dateToString": {"format": "%j %w %u %%", "date": "$t"}}`, `"069 7 6 %"`},
		{`{"$dateToString": {"date": "$nope", "onNull": "none"}}`, `"none"`},
		{`{"$dateToString": {"format": "%G", "date": "$t"}}`, "error 18536"},
		// arrays
		{`{"$size": "$arr"}`, "3"},
		{`{"$size": "$nope"}`, "error 17124"},
		// unknown operators fail closed
		{`{"$sqrt": 4}`, "error 168: expression operator $sqrt"},
		{`{"$add": [1, {"$pow": [2, 2]}]}`, "error 168: expression operator $pow"},
		{`{"$eq": [1]}`, "error 16020"},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			got := evalExprJSON(t, tc.expr)
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

func TestExpressionEdges(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{`{"$substrCP": ["$s", 1e300, 1e300]}`, "error 34451"},
		{`{"$round": [1.5, 100]}`, "1.5"},
		{`{"$round": [1e300, 100]}`, "1e+300"},
		{`{"$round": [19.05, 1]}`, "19.1"}, // 19.0500000000000007105…
		{`{"$round": [2.675, 2]}`, "2.67"}, // 2.6749999999999998223…
		{`{"$round": [0.125, 2]}`, "0.12"}, // exact tie: to even
		{`{"$round": [-2.5, 0]}`, "-2.0"},  // tie: to even
		{`{"$round": [1234.5678, -2]}`, "1200.0"},
		{`{"$round": [1234.5678, -4]}`, "0.0"},
		{`{"$round": [5, -21]}`, "error 51083"},
	} {
		if got := evalExprJSON(t, tc.expr); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: got %s, want %s", tc.expr, got, tc.want)
		}
	}
}
