package mongopipe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// parseArr reads a relaxed Extended JSON array (1 is int32, 2.5 a double,
// {"$numberLong": "1"} an int64, {"$date": ...} a date).
func parseArr(t testing.TB, js string) bson.A {
	t.Helper()
	var wrap bson.D
	if err := bson.UnmarshalExtJSON([]byte(`{"v":`+js+`}`), false, &wrap); err != nil {
		t.Fatalf("bad test JSON %s: %v", js, err)
	}
	arr, ok := wrap[0].Value.(bson.A)
	if !ok {
		t.Fatalf("test JSON %s is not an array", js)
	}
	return arr
}

func parseVal(t testing.TB, js string) any {
	t.Helper()
	var wrap bson.D
	if err := bson.UnmarshalExtJSON([]byte(`{"v":`+js+`}`), false, &wrap); err != nil {
		t.Fatalf("bad test JSON %s: %v", js, err)
	}
	return wrap[0].Value
}

func parseDocs(t testing.TB, js string) []bson.D {
	t.Helper()
	var out []bson.D
	for _, v := range parseArr(t, js) {
		d, ok := v.(bson.D)
		if !ok {
			t.Fatalf("test JSON element %v is not a document", v)
		}
		out = append(out, d)
	}
	return out
}

// show prints a value with its BSON type visible: 1 (int32), 1L (int64),
// 1.0 (double), "s", {a: 1}, [1, 2], null, date(2020-01-02T00:00:00Z).
func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case missingT:
		return "missing"
	case int32:
		return strconv.Itoa(int(x))
	case int64:
		return strconv.FormatInt(x, 10) + "L"
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) && math.Abs(x) < 1e15 {
			return strconv.FormatFloat(x, 'f', 1, 64)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case bson.D:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = e.Key + ": " + show(e.Value)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case bson.A:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = show(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case bson.DateTime:
		return "date(" + x.Time().UTC().Format("2006-01-02T15:04:05.000Z") + ")"
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

func showDocs(docs []bson.D) string {
	parts := make([]string, len(docs))
	for i, d := range docs {
		parts[i] = show(d)
	}
	return strings.Join(parts, "\n")
}

// showErr prints an evaluation error as "error <code>: <message>".
func showErr(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return fmt.Sprintf("error %d: %s", pe.Code, pe.Msg)
	}
	return "error: " + err.Error()
}

// runLocal evaluates a pipeline (Extended JSON array) over documents.
func runLocal(t testing.TB, pipeline string, input []bson.D, env Env) (string, error) {
	t.Helper()
	var p []bson.D
	for _, st := range parseArr(t, pipeline) {
		p = append(p, st.(bson.D))
	}
	ctx := context.Background()
	cp := append([]bson.D(nil), input...)
	it, err := Eval(ctx, p, SliceIter(cp), env)
	if err != nil {
		return "", err
	}
	out, err := Collect(ctx, it, 0)
	if err != nil {
		return "", err
	}
	return showDocs(out), nil
}

type pipeCase struct {
	name     string
	pipeline string
	want     string // documents, one per line, or "error <code>" prefix
}

func runCases(t *testing.T, input string, cases []pipeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runLocal(t, tc.pipeline, parseDocs(t, input), Env{})
			if err != nil {
				got = showErr(err)
			}
			if strings.HasPrefix(tc.want, "error ") {
				if !strings.HasPrefix(got, tc.want) {
					t.Fatalf("pipeline %s\n got: %s\nwant: %s…", tc.pipeline, got, tc.want)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("pipeline %s\n got:\n%s\nwant:\n%s", tc.pipeline, got, tc.want)
			}
		})
	}
}
