package evalset

import (
	"fmt"
	"sort"
)

// Buckets are the confidence buckets of a calibration table.
var Buckets = [5]string{"<0.5", "0.5-0.7", "0.7-0.8", "0.8-0.9", ">=0.9"}

// BucketOf is the index in Buckets of a confidence.
func BucketOf(c float64) int {
	switch {
	case c < 0.5:
		return 0
	case c < 0.7:
		return 1
	case c < 0.8:
		return 2
	case c < 0.9:
		return 3
	}
	return 4
}

// Stats counts the results of one engine on one question set: per
// category (the item's category, else its database) and per confidence
// bucket. An answer under Threshold counts as declined in the totals (the
// API declines it by default) and still counts in its bucket.
type Stats struct {
	Threshold                float64
	Total, Answered, Right   int
	ByCat                    map[string]*[3]int // category -> total, answered, right
	Bucket                   [5][2]int          // bucket -> answered, right
	Wrong, Declined, Guesses []string
}

// Add records one question: whether an answer came back, whether it was
// right, and its confidence.
func (st *Stats) Add(it Item, answered, right bool, conf float64) {
	if st.ByCat == nil {
		st.ByCat = map[string]*[3]int{}
	}
	cat := it.Category
	if cat == "" {
		cat = it.DB
	}
	if cat == "" {
		cat = "all"
	}
	c := st.ByCat[cat]
	if c == nil {
		c = &[3]int{}
		st.ByCat[cat] = c
	}
	st.Total++
	c[0]++
	if !answered {
		st.Declined = append(st.Declined, it.ID)
		return
	}
	b := BucketOf(conf)
	st.Bucket[b][0]++
	if right {
		st.Bucket[b][1]++
	}
	if conf < st.Threshold {
		if !right {
			st.Guesses = append(st.Guesses, it.ID)
		}
		st.Declined = append(st.Declined, it.ID)
		return
	}
	st.Answered++
	c[1]++
	if right {
		st.Right++
		c[2]++
	} else {
		st.Wrong = append(st.Wrong, it.ID)
	}
}

// Pct is a/b as a percentage, "-" when b is 0.
func Pct(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
}

// Report writes the totals, the per-category table and the calibration
// buckets through logf.
func (st *Stats) Report(logf func(format string, args ...any), set, engine string) {
	logf("%s %s: accuracy %d/%d = %s; answered %d, precision %s (confidence >= %.2f)", set, engine, st.Right, st.Total,
		Pct(st.Right, st.Total), st.Answered, Pct(st.Right, st.Answered), st.Threshold)
	cats := make([]string, 0, len(st.ByCat))
	for c := range st.ByCat {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	for _, c := range cats {
		v := st.ByCat[c]
		logf("  %-30s total %3d answered %3d right %3d accuracy %6s precision %6s", c, v[0], v[1], v[2], Pct(v[2], v[0]), Pct(v[2], v[1]))
	}
	for i, b := range st.Bucket {
		logf("  confidence %-8s answered %3d right %3d (%s)", Buckets[i], b[0], b[1], Pct(b[1], b[0]))
	}
	sort.Strings(st.Wrong)
	logf("  wrong: %v", st.Wrong)
}
