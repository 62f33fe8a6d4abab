// Package evalset loads natural-language question sets with gold SQL and
// compares answers with gold results by execution accuracy: values
// normalised, columns matched by their values, rows as multisets (or in
// order when the question asks for one).
package evalset

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Item is one question with its gold SQL for each engine.
type Item struct {
	ID           string `json:"id"`
	Question     string `json:"question"`
	GoldPostgres string `json:"gold_sql_postgres"`
	GoldMySQL    string `json:"gold_sql_mysql"`
	// DB names the question's database when a set spans several (Spider).
	DB string `json:"db,omitempty"`
	// Category is the question's category, when the set has them.
	Category string `json:"query_category,omitempty"`
}

// Load reads a JSON-lines question set.
func Load(path string) ([]Item, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Item
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var it Item
		if err := json.Unmarshal([]byte(line), &it); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, it)
	}
	return out, sc.Err()
}

var dateRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$`)

// Normalize returns the comparison form of a value: numbers rounded to two
// decimals, strings trimmed, dates and timestamps as UTC, NULL as "\x00NULL".
func Normalize(v any) string {
	switch x := v.(type) {
	case nil:
		return "\x00NULL"
	case bool:
		if x {
			return "1.00"
		}
		return "0.00"
	case int:
		return fmt.Sprintf("%.2f", float64(x))
	case int64:
		return fmt.Sprintf("%.2f", float64(x))
	case float64:
		return fmt.Sprintf("%.2f", round2(x))
	case json.Number:
		return Normalize(string(x))
	case []byte:
		return Normalize(string(x))
	case time.Time:
		return normTime(x)
	case string:
		s := strings.TrimSpace(x)
		if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXpP") && s != "" && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return fmt.Sprintf("%.2f", round2(f))
		}
		if dateRe.MatchString(s) {
			for _, layout := range []string{"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07", "2006-01-02 15:04:05.999999999",
				time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
				if t, err := time.Parse(layout, s); err == nil {
					return normTime(t)
				}
			}
		}
		return s
	}
	return strings.TrimSpace(fmt.Sprint(v))
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func normTime(t time.Time) string {
	t = t.UTC()
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return "D" + t.Format("2006-01-02")
	}
	return "T" + t.Format("2006-01-02T15:04:05.999999999")
}

// orderWords are the words by which a question asks for an order.
var orderWords = regexp.MustCompile(`(?i)\b(sorted|ordered|order by|in order|alphabetically|alphabetical|rank|ranked|descending|ascending|from highest to lowest|from lowest to highest)\b`)

var topOrderBy = regexp.MustCompile(`(?is)\border\s+by\b`)

// AsksOrder reports whether order counts: the gold SQL has a top-level ORDER
// BY and the question asks for an order.
func AsksOrder(question, gold string) bool {
	return orderWords.MatchString(question) && hasTopLevelOrderBy(gold)
}

func hasTopLevelOrderBy(sql string) bool {
	depth := 0
	for i := 0; i < len(sql); i++ {
		switch sql[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '\'':
			for i++; i < len(sql) && sql[i] != '\''; i++ {
			}
		default:
			if depth == 0 && (sql[i] == 'o' || sql[i] == 'O') && topOrderBy.MatchString(sql[i:min(len(sql), i+20)]) && strings.HasPrefix(strings.ToLower(sql[i:]), "order") {
				return true
			}
		}
	}
	return false
}

// Match reports whether got answers gold: every gold column is matched by
// a distinct got column holding the same values, and the rows agree as
// multisets (as sequences when ordered).
func Match(gold, got [][]any, ordered bool) bool {
	if len(gold) != len(got) {
		return false
	}
	if len(gold) == 0 {
		return true
	}
	g := normAll(gold)
	a := normAll(got)
	gc, ac := len(g[0]), len(a[0])
	if ac < gc {
		return false
	}
	// Candidate answer columns for each gold column: same sorted values.
	colVals := func(rows [][]string, j int) string {
		vs := make([]string, len(rows))
		for i, r := range rows {
			vs[i] = r[j]
		}
		sort.Strings(vs)
		return strings.Join(vs, "\x01")
	}
	cands := make([][]int, gc)
	for j := 0; j < gc; j++ {
		gv := colVals(g, j)
		for k := 0; k < ac; k++ {
			if colVals(a, k) == gv {
				cands[j] = append(cands[j], k)
			}
		}
		if len(cands[j]) == 0 {
			return false
		}
	}
	assign := make([]int, gc)
	used := make([]bool, ac)
	var try func(j int) bool
	try = func(j int) bool {
		if j == gc {
			return rowsEqual(g, a, assign, ordered)
		}
		for _, k := range cands[j] {
			if used[k] {
				continue
			}
			used[k] = true
			assign[j] = k
			if try(j + 1) {
				return true
			}
			used[k] = false
		}
		return false
	}
	return try(0)
}

func normAll(rows [][]any) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(r))
		for j, v := range r {
			out[i][j] = Normalize(v)
		}
	}
	return out
}

func rowsEqual(g, a [][]string, assign []int, ordered bool) bool {
	gk := make([]string, len(g))
	ak := make([]string, len(a))
	for i := range g {
		gk[i] = strings.Join(g[i], "\x02")
		parts := make([]string, len(assign))
		for j, k := range assign {
			parts[j] = a[i][k]
		}
		ak[i] = strings.Join(parts, "\x02")
	}
	if !ordered {
		sort.Strings(gk)
		sort.Strings(ak)
	}
	for i := range gk {
		if gk[i] != ak[i] {
			return false
		}
	}
	return true
}
