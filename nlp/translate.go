package nlp

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Request is one question to translate.
type Request struct {
	Question string
	// Schema is what the caller's role may read (see Schema.Filter).
	Schema   *Schema
	Glossary Glossary
	Examples []Example
	// Now anchors relative dates ("last month"); zero means time.Now().
	Now time.Time
}

// Translation is SQL answering a question.
type Translation struct {
	SQL         string  `json:"sql"`
	Explanation string  `json:"explanation"`
	Confidence  float64 `json:"confidence"`
	// Source says who wrote the SQL: "example", "deterministic" or "llm".
	Source string `json:"source"`
}

// Translator turns questions into SQL.
type Translator interface {
	Translate(ctx context.Context, req Request) (*Translation, error)
}

// Unanswerable is the error of a question the translator declines: it
// says which words it could not map and what the schema offers.
type Unanswerable struct {
	Reason     string   `json:"reason"`
	Unmapped   []string `json:"unmapped_words,omitempty"`
	Understood []string `json:"understood,omitempty"`
	Tables     []string `json:"tables_available,omitempty"`
	// Confidence is the best reading's, when one was found but is not sure
	// enough to answer with.
	Confidence float64 `json:"confidence,omitempty"`
}

// Error implements error.
func (e *Unanswerable) Error() string {
	var b strings.Builder
	b.WriteString("cannot answer the question: ")
	b.WriteString(e.Reason)
	if len(e.Unmapped) > 0 {
		fmt.Fprintf(&b, "; these words matched nothing in the schema: %s", strings.Join(e.Unmapped, ", "))
	}
	if len(e.Understood) > 0 {
		fmt.Fprintf(&b, "; understood: %s", strings.Join(e.Understood, ", "))
	}
	if len(e.Tables) > 0 {
		fmt.Fprintf(&b, "; the schema offers tables %s", strings.Join(e.Tables, ", "))
	}
	return b.String()
}

// Deterministic is the schema-aware translator without a model. It is safe
// for concurrent use; its lexicons are cached per schema.
type Deterministic struct {
	lex lexCache
}

var _ Translator = (*Deterministic)(nil)

// NewDeterministic returns the deterministic translator.
func NewDeterministic() *Deterministic { return &Deterministic{} }

// minConfidence is the confidence below which the translator declines.
const minConfidence = 0.45

// AnswerThreshold is the confidence under which an answer is a guess: the
// admin API declines such questions unless the caller allows low
// confidence. Calibrated on the public question sets (nlp/README.md).
const AnswerThreshold = 0.8

// Translate implements Translator.
func (d *Deterministic) Translate(ctx context.Context, req Request) (*Translation, error) {
	if req.Schema == nil || len(req.Schema.Tables) == 0 {
		return nil, &Unanswerable{Reason: "no table is readable on this tenant"}
	}
	if t, ok := matchExample(req); ok {
		return t, nil
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	p := &parser{
		s:   req.Schema,
		lx:  d.lex.get(req.Schema, req.Glossary),
		r:   newRenderer(req.Schema.Dialect),
		now: now,
	}
	p.toks = tokenize(req.Question)
	if len(p.toks) == 0 {
		return nil, &Unanswerable{Reason: "the question is empty", Tables: tableNames(req.Schema)}
	}
	return p.run()
}

func tableNames(s *Schema) []string {
	out := make([]string, len(s.Tables))
	for i, t := range s.Tables {
		out[i] = t.Name
	}
	return out
}

type mkind uint8

const (
	mTable mkind = iota + 1
	mColumn
	mValue
)

// mention is a span of the question linked to the schema.
type mention struct {
	kind       mkind
	start, end int // token span [start, end)
	links      []link
	vals       []valueRef
	used       bool // consumed by a construct other than plain listing

	table *Table  // resolved table
	col   *Column // resolved column
	head  *Table  // the table a compound names ("cartoons directed by")
}

type parser struct {
	s    *Schema
	lx   *lexicon
	r    *renderer
	now  time.Time
	toks []token

	ms       []*mention
	byTok    []*mention // token index -> mention covering it
	consumed []bool     // token index -> consumed by a construct
	cue      []bool     // token index -> a cue word (a construct may consume it)
	uses     string     // what the built query does with its tables (selectQ.uses)
	ctx      map[*Table]bool

	understood []string
	penalty    float64
}

func (p *parser) run() (*Translation, error) {
	p.link()
	f, err := p.frame()
	if err != nil {
		return nil, err
	}
	sql, expl, err := p.build(f)
	if err != nil {
		return nil, err
	}
	if unmapped := p.unaccounted(sql, p.uses); len(unmapped) > 0 {
		return nil, &Unanswerable{Reason: "some words of the question were not understood, and an answer without them could be wrong",
			Unmapped: unmapped, Understood: p.understood, Tables: tableNames(p.s)}
	}
	conf, why := confidence(p.doubts(sql))
	conf = math.Round((conf-p.penalty)*100) / 100
	if conf < minConfidence {
		return nil, &Unanswerable{Reason: "the question has more than one likely reading: " + strings.Join(why, "; "), Understood: p.understood, Tables: tableNames(p.s)}
	}
	if len(why) > 0 {
		expl += " Less sure because " + strings.Join(why, "; ") + "."
	}
	return &Translation{SQL: sql, Explanation: expl, Confidence: conf, Source: "deterministic"}, nil
}

// --- linking ---

func (p *parser) at(i int, words ...string) bool {
	if i < 0 || i+len(words) > len(p.toks) {
		return false
	}
	for k, w := range words {
		t := p.toks[i+k]
		if t.quoted || (t.low != w && t.lem != w) {
			return false
		}
	}
	return true
}

func (p *parser) mark(i, n int) {
	for k := i; k < i+n && k < len(p.consumed); k++ {
		p.consumed[k] = true
	}
}

// cueWords are words the frame builder interprets; they never link to the
// schema by themselves.
var cueWords = toSet(`how many much number count average avg mean sum total minimum min maximum max smallest largest
lowest highest least most biggest greatest top first last sorted ordered order sort by per each every more less fewer greater
than over above under below after before since between during longer shorter cheaper older newer latest earliest oldest newest
unique distinct different null empty missing unknown blank specified alphabetically ascending descending range year month day
week quarter monthly yearly annual daily weekly minute second hour millisecond expensive best worst never least`)

// link finds the mentions: schema phrases and values, longest first.
func (p *parser) link() {
	n := len(p.toks)
	p.byTok = make([]*mention, n)
	p.consumed = make([]bool, n)
	p.cue = make([]bool, n)
	for i := 0; i < n; {
		t := p.toks[i]
		if t.punct || t.isNum {
			i++
			continue
		}
		// Values first when longer than any schema phrase here.
		vn, vals := p.matchValue(i)
		sn, links := p.matchPhrase(i)
		switch {
		case vn > 0 && (vn > sn || (vn == sn && (t.cap || t.quoted))):
			m := &mention{kind: mValue, start: i, end: i + vn, vals: vals}
			p.add(m)
			i += vn
		case sn > 0:
			kind := mColumn
			for _, l := range links {
				if l.kind == linkTable {
					kind = mTable
				}
			}
			m := &mention{kind: kind, start: i, end: i + sn, links: links}
			p.add(m)
			i += sn
		default:
			i++
		}
	}
	p.mergeCompounds()
}

// kill drops the mentions within tokens [i, i+n): the words were a cue.
func (p *parser) kill(i, n int) {
	for k := i; k < i+n && k < len(p.toks); k++ {
		m := p.byTok[k]
		if m == nil {
			continue
		}
		for j := m.start; j < m.end; j++ {
			p.byTok[j] = nil
		}
		for j, x := range p.ms {
			if x == m {
				p.ms = append(p.ms[:j], p.ms[j+1:]...)
				break
			}
		}
	}
	p.mark(i, n)
}

// hasAggCue reports whether the question asks for an aggregate at all.
func (p *parser) hasAggCue() bool {
	for i, t := range p.toks {
		switch t.lem {
		case "count", "number", "average", "avg", "mean", "sum", "total", "minimum", "maximum", "min", "max", "most",
			"highest", "lowest", "largest", "smallest", "top", "#", "breakdown":
			return true
		}
		if p.measureWord(i) || p.at(i, "how", "many") || p.at(i, "how", "much") {
			return true
		}
	}
	return false
}

func (p *parser) add(m *mention) {
	p.ms = append(p.ms, m)
	for k := m.start; k < m.end; k++ {
		p.byTok[k] = m
	}
}

func (p *parser) matchPhrase(i int) (int, []link) {
	max := p.lx.maxN
	if i+max > len(p.toks) {
		max = len(p.toks) - i
	}
	for n := max; n >= 1; n-- {
		ok := true
		words := make([]string, n)
		for k := 0; k < n; k++ {
			t := p.toks[i+k]
			if t.punct || t.isNum || t.quoted {
				ok = false
				break
			}
			words[k] = t.lem
		}
		if !ok {
			continue
		}
		if n == 1 && cueWords[words[0]] && !p.lx.words[words[0]] {
			return 0, nil
		}
		if n == 1 && stopWords[p.toks[i].low] && !(nounStops[p.toks[i].low] && p.lx.words[words[0]]) {
			return 0, nil
		}
		ls := p.lx.phrases[strings.Join(words, " ")]
		if len(ls) == 0 && n == 2 {
			// "high schoolers" is the highschooler table.
			for _, l := range p.lx.phrases[words[0]+words[1]] {
				if l.score >= 1 {
					ls = append(ls, l)
				}
			}
		}
		if len(ls) > 0 {
			if n == 1 && cueWords[words[0]] {
				// A cue word links only to a column of exactly its name.
				var exact []link
				for _, l := range ls {
					if l.score >= 1 {
						exact = append(exact, l)
					}
				}
				if len(exact) == 0 {
					return 0, nil
				}
				ls = exact
			}
			return n, ls
		}
		if n == 1 {
			var out []link
			for _, syn := range synonyms[words[0]] {
				for _, l := range p.lx.phrases[syn] {
					l.score *= 0.8
					out = append(out, l)
				}
			}
			if len(out) > 0 {
				return 1, out
			}
		}
	}
	return 0, nil
}

func (p *parser) matchValue(i int) (int, []valueRef) {
	t := p.toks[i]
	if t.quoted {
		return 1, p.lx.values[normValue(t.raw)]
	}
	max := p.lx.maxVal
	if i+max > len(p.toks) {
		max = len(p.toks) - i
	}
	for n := max; n >= 1; n-- {
		parts := make([]string, 0, n)
		ok := true
		for k := 0; k < n; k++ {
			tk := p.toks[i+k]
			if tk.quoted || (tk.punct && tk.low != "&") {
				ok = false
				break
			}
			parts = append(parts, tk.raw)
		}
		if !ok {
			continue
		}
		refs := p.lx.values[normValue(strings.Join(parts, " "))]
		if len(refs) == 0 {
			continue
		}
		if n == 1 {
			if t.isNum || stopWords[t.low] || cueWords[t.lem] || len(t.low) < 2 {
				continue
			}
			// A lone lower-case word is a value only next to a table it
			// can qualify ("rock tracks", "tracks of jazz").
			if !t.cap && !p.nextToTable(i) && !p.nextToColumn(i, refs) {
				continue
			}
		}
		return n, refs
	}
	return 0, nil
}

// nextToColumn reports whether a word next to token i names the column of
// one of refs ("the books category").
func (p *parser) nextToColumn(i int, refs []valueRef) bool {
	for _, j := range []int{i + 1, i - 1} {
		if j < 0 || j >= len(p.toks) {
			continue
		}
		if _, ls := p.matchPhrase(j); len(ls) > 0 {
			for _, l := range ls {
				for _, v := range refs {
					if l.col != nil && l.col == v.col {
						return true
					}
				}
			}
		}
	}
	return false
}

func (p *parser) nextToTable(i int) bool {
	for _, j := range []int{i + 1, i - 1} {
		if j < 0 || j >= len(p.toks) {
			continue
		}
		if _, ls := p.matchPhrase(j); len(ls) > 0 {
			for _, l := range ls {
				if l.kind == linkTable {
					return true
				}
			}
		}
	}
	return false
}

// --- the frame: what the question asks ---

type aggKind string

const (
	aggNone  aggKind = ""
	aggCount aggKind = "COUNT"
	aggSum   aggKind = "SUM"
	aggAvg   aggKind = "AVG"
	aggMin   aggKind = "MIN"
	aggMax   aggKind = "MAX"
)

type measure struct {
	pos    int // token index of the cue
	fn     aggKind
	table  *Table
	col    *Column
	expr   sqlExpr // overrides col (price * quantity, unit conversion)
	label  string
	counts *Table // COUNT of this table's rows
	also   *Table // a second table expr reads (price on the product, quantity on the line)
	// distinct counts the distinct values of col (COUNT(DISTINCT col)).
	distinct bool
}

type filter struct {
	e    sqlExpr
	desc string
	tbl  *Table
}

type frame struct {
	main     *Table
	measures []measure

	groupTable *Table
	groupCol   *mention
	groupTime  string // YEAR, MONTH, QUARTER, DAY
	groupTimeC *Column

	filters []filter
	having  []sqlExpr
	havDesc string

	distinct []*mention
	extra    []*mention // columns to show besides main.*
	tables   []*Table   // tables the question names

	orderBy    sqlExpr
	orderDesc  bool
	orderDesc2 string
	rankAgg    bool // order by the (first) measure
	limit      int

	nestedAvg *Table   // average number of main rows per nestedAvg
	fkNamed   []*Table // tables named through a foreign-key column
	perIsPer  bool
}

func (p *parser) frame() (*frame, error) {
	f := &frame{}
	p.cueMark()
	// Group targets: "by X", "per X", "for each X", "each X", "every X".
	groupStart := -1
	aggCue := p.hasAggCue()
	for i := range p.toks {
		if p.at(i, "sorted", "by") || p.at(i, "ordered", "by") || p.at(i, "order", "by") || p.at(i, "sort", "by") {
			if m := p.nextMention(i+2, 3); m != nil && (m.kind == mColumn || m.kind == mTable) {
				p.mark(i, 2)
				f.orderBy = p.colOrLabel(m)
				m.used = true
				if m.kind == mColumn {
					p.resolveCol(m, nil)
					f.extra = append(f.extra, m)
				}
			}
			continue
		}
		if !(p.at(i, "by") || p.at(i, "per") || p.at(i, "each") || p.at(i, "every")) {
			continue
		}
		if i > 0 && p.at(i-1, "each") {
			continue
		}
		if p.at(i, "by") && i > 0 && (relationVerbs[p.toks[i-1].low] || strings.HasSuffix(p.toks[i-1].low, "ed")) {
			continue // "pets owned by students", "cartoons directed by": who, not per what
		}
		if !aggCue {
			continue
		}
		j := i + 1
		if p.at(j, "each") || p.at(j, "every") {
			j++
		}
		for k := 0; k < 3 && (p.at(j, "of") || p.at(j, "those") || p.at(j, "these") || p.at(j, "the")); k++ {
			j++
		}
		if p.at(i, "by") && (p.at(j, "number") || p.at(j, "count") || p.at(j, "total") || p.at(j, "sum") || p.at(j, "average") || p.measureWord(j)) {
			p.mark(i, 1)
			continue // "top 5 countries by number of customers": what to rank by
		}
		if tu := p.timeUnit(j); tu != "" && !p.nextIsNumber(j) {
			f.groupTime = tu
			p.mark(i, j-i+1)
			groupStart = i
			continue
		}
		m := p.nextMention(j, 2)
		if m == nil || m.kind == mValue || m.used {
			continue
		}
		if p.at(i, "by") && f.groupTable == nil && f.groupCol == nil && p.isRankMeasure(m) {
			p.mark(i, 1)
			continue // "top 5 customers by total purchase amount": a measure, not a group
		}
		p.mark(i, j-i)
		m.used = true
		groupStart = i
		if m.kind == mTable {
			f.groupTable = p.bestTable(m)
		} else {
			f.groupCol = m
		}
		if p.at(i, "per") {
			f.perIsPer = true
		}
	}
	for i := range p.toks {
		switch {
		case p.at(i, "monthly"):
			f.groupTime = "MONTH"
			p.mark(i, 1)
		case p.at(i, "yearly") || p.at(i, "annual") || p.at(i, "annually"):
			f.groupTime = "YEAR"
			p.mark(i, 1)
		}
	}
	_ = groupStart

	// Aggregates.
	if err := p.aggregates(f); err != nil {
		return nil, err
	}
	// Tables the question names, in order; a foreign-key column names the
	// table it references ("support representative" -> employee).
	for _, m := range p.ms {
		if m.kind == mTable {
			t := p.bestTable(m)
			if !containsTable(f.tables, t) {
				f.tables = append(f.tables, t)
			}
		}
	}
	for _, m := range p.ms {
		if m.kind != mColumn || m.used {
			continue
		}
		p.resolveCol(m, f.tables)
		if m.col == nil {
			continue
		}
		if ref := p.fkTarget(m.table, m.col); ref != nil {
			if ref == m.table {
				return nil, &Unanswerable{Reason: fmt.Sprintf("%s.%s refers to its own table; questions about such hierarchies are not supported", m.table.Name, m.col.Name),
					Tables: tableNames(p.s)}
			}
			if !containsTable(f.tables, m.table) {
				m.col, m.table = nil, nil
				continue
			}
			m.used = true
			if !containsTable(f.tables, ref) {
				f.tables = append(f.tables, ref)
				f.fkNamed = append(f.fkNamed, ref)
			}
		} else if !p.unique(m) && !containsTable(f.tables, m.table) {
			m.col, m.table = nil, nil
		}
	}
	// "all invoices with the # of invoice line items": count the children
	// of each listed parent.
	if len(f.measures) == 1 && f.measures[0].counts != nil && f.groupTable == nil && f.groupCol == nil && f.groupTime == "" {
		for _, m := range p.ms {
			if m.kind != mTable || m.used || m.start >= f.measures[0].pos {
				continue
			}
			t := p.bestTable(m)
			if t != f.measures[0].counts && p.parentOf(t, f.measures[0].counts) {
				f.groupTable = t
				m.used = true
				if f.main == f.measures[0].counts {
					f.main = nil
				}
			}
			break
		}
	}
	if len(f.measures) == 0 && (f.groupTable != nil || f.groupCol != nil || f.groupTime != "") {
		for i := range p.toks {
			if p.measureWord(i) {
				ms, err := p.moneyMeasure(f, aggSum)
				if err != nil {
					return nil, err
				}
				f.measures = append(f.measures, ms)
				break
			}
		}
	}

	// Main table.
	if f.main == nil {
		for _, m := range p.ms {
			if m.kind == mTable && !m.used {
				f.main = p.bestTable(m)
				break
			}
			if m.head != nil && !m.used {
				f.main = m.head
				break
			}
		}
	}
	if f.main == nil && len(f.measures) > 0 && f.measures[0].counts != nil {
		f.main = f.measures[0].counts
	}
	if f.main == nil && f.groupTable != nil && len(f.measures) == 0 {
		f.main = f.groupTable
		f.groupTable = nil
	}
	if f.main == nil {
		for _, m := range p.ms {
			if m.kind == mColumn {
				p.resolveCol(m, f.tables)
				if m.table != nil {
					f.main = m.table
					break
				}
			}
		}
	}
	if f.main == nil {
		for _, ms := range f.measures {
			if ms.table != nil {
				f.main = ms.table
				break
			}
		}
	}
	if f.main == nil {
		for _, m := range p.ms {
			if m.kind == mValue && len(m.vals) > 0 {
				f.main = m.vals[0].table
				break
			}
		}
	}
	if f.main == nil {
		return nil, &Unanswerable{Reason: "no table or column of the schema is named in the question",
			Unmapped: p.contentWords(), Tables: tableNames(p.s)}
	}
	p.understood = append(p.understood, "rows of "+f.main.Name)
	if !containsTable(f.tables, f.main) {
		f.tables = append([]*Table{f.main}, f.tables...)
	}
	if err := p.filters(f); err != nil {
		return nil, err
	}
	p.ordering(f)
	// Columns named for display.
	for _, m := range p.ms {
		if m.kind == mColumn && !m.used {
			if !p.unique(m) && !p.linksAny(m, f.tables) {
				continue
			}
			p.resolveCol(m, f.tables, f.main)
			if m.col != nil {
				m.used = true
				f.extra = append(f.extra, m)
			}
		}
	}
	for i, t := range p.toks {
		if p.at(i, "unique") || p.at(i, "distinct") || p.at(i, "different") {
			p.mark(i, 1)
			if m := p.nextMention(i+1, 3); m != nil && m.kind == mColumn {
				p.resolveCol(m, f.tables, f.main)
				if m.col != nil {
					f.distinct = append(f.distinct, m)
				}
			}
		}
		_ = t
	}
	return f, nil
}

// cueMark marks tokens that are cue or unit words as understood.
func (p *parser) cueMark() {
	for i, t := range p.toks {
		if cueWords[t.lem] || cueWords[t.low] || t.low == "#" {
			p.cue[i] = true
		}
	}
}

// fkTarget is the table a single-column foreign key on c references.
func (p *parser) fkTarget(t *Table, c *Column) *Table {
	for _, fk := range t.ForeignKeys {
		if len(fk.Columns) == 1 && strings.EqualFold(fk.Columns[0], c.Name) {
			return p.s.Table(fk.RefTable)
		}
	}
	return nil
}

// linksAny reports whether a mention can stand for a column of one of ts.
func (p *parser) linksAny(m *mention, ts []*Table) bool {
	for _, l := range m.links {
		if containsTable(ts, l.table) {
			return true
		}
	}
	return false
}

// unique reports whether all of a mention's links are in one table.
func (p *parser) unique(m *mention) bool {
	var t *Table
	for _, l := range m.links {
		if t != nil && l.table != t {
			return false
		}
		t = l.table
	}
	return true
}

func containsTable(ts []*Table, t *Table) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

func (p *parser) contentWords() []string {
	var out []string
	for i, t := range p.toks {
		if p.consumed[i] || t.punct || t.isNum || stopWords[t.low] || fillerWords[t.lem] {
			continue
		}
		out = append(out, t.raw)
	}
	return out
}

// nextMention returns the mention starting within max tokens after i,
// skipping stop words.
func (p *parser) nextMention(i, max int) *mention {
	for k := i; k < len(p.toks) && k < i+max+2; k++ {
		if m := p.byTok[k]; m != nil {
			return m
		}
		t := p.toks[k]
		if t.punct || t.isNum {
			return nil
		}
		if !stopWords[t.low] && !fillerWords[t.lem] && !measureWords[t.lem] && t.lem != "total" && t.lem != "number" {
			if k-i >= max {
				return nil
			}
		}
	}
	return nil
}

func (p *parser) prevMention(i, max int) *mention {
	for k := i; k >= 0 && k > i-max-2; k-- {
		if m := p.byTok[k]; m != nil {
			return m
		}
		if p.toks[k].punct {
			return nil
		}
	}
	return nil
}

func (p *parser) nextIsNumber(i int) bool {
	return i+1 < len(p.toks) && p.toks[i+1].isNum
}

func (p *parser) timeUnit(i int) string {
	switch {
	case p.at(i, "year"):
		return "YEAR"
	case p.at(i, "month"):
		return "MONTH"
	case p.at(i, "quarter"):
		return "QUARTER"
	case p.at(i, "day"):
		return "DAY"
	}
	return ""
}

func (p *parser) bestTable(m *mention) *Table {
	var best *Table
	bs := -1.0
	for _, l := range m.links {
		if l.kind == linkTable && l.score > bs {
			best, bs = l.table, l.score
		}
	}
	if best == nil && len(m.links) > 0 {
		best = m.links[0].table
	}
	return best
}

// resolveCol picks the column a mention stands for: a link in a preferred
// table first (the main table wins), then an exact name over a partial
// one, then the table nearest to a named one.
func (p *parser) resolveCol(m *mention, tables []*Table, prefer ...*Table) {
	if m.col != nil || m.kind != mColumn {
		return
	}
	// A column name right after a table mention belongs to that table
	// ("artist name", "invoice total").
	if m.start > 0 {
		if pm := p.byTok[m.start-1]; pm != nil && pm.kind == mTable {
			t := p.bestTable(pm)
			for _, l := range m.links {
				if l.kind == linkColumn && l.table == t {
					m.table, m.col = l.table, l.col
					return
				}
			}
		}
	}
	best, bs := link{}, -1.0
	for _, l := range m.links {
		if l.kind != linkColumn {
			continue
		}
		s := l.score
		for _, t := range prefer {
			if l.table == t {
				s += 0.6
			}
		}
		if containsTable(tables, l.table) {
			s += 0.5
		}
		if p.contextTables()[l.table] {
			s += 0.3
		}
		if s > bs {
			best, bs = l, s
		}
	}
	if best.col != nil {
		m.table, m.col = best.table, best.col
	}
}

// otherContext reports whether a table or column mention of the question
// may stand for a table other than t.
func (p *parser) otherContext(t *Table) bool {
	for _, m := range p.ms {
		if m.kind == mValue {
			continue
		}
		for _, l := range m.links {
			if (m.kind == mTable) == (l.kind == linkTable) && l.table != t {
				return true
			}
		}
	}
	return false
}

// contextTables are the tables the question names without ambiguity: its
// table mentions, column mentions of one table, and values found in one
// table. An ambiguous column ("population" of a city or of a country)
// prefers them.
func (p *parser) contextTables() map[*Table]bool {
	if p.ctx != nil {
		return p.ctx
	}
	p.ctx = map[*Table]bool{}
	for _, m := range p.ms {
		switch m.kind {
		case mTable:
			p.ctx[p.bestTable(m)] = true
		case mColumn:
			if p.unique(m) && len(m.links) > 0 {
				p.ctx[m.links[0].table] = true
			}
		case mValue:
			if len(m.vals) > 0 {
				one := true
				for _, v := range m.vals {
					one = one && v.table == m.vals[0].table
				}
				if one {
					p.ctx[m.vals[0].table] = true
				}
			}
		}
	}
	return p.ctx
}

func (p *parser) colOrLabel(m *mention) sqlExpr {
	if m.kind == mTable {
		t := p.bestTable(m)
		if l := labelCols(t); len(l) > 0 {
			return colExpr{t.Name, l[0].Name}
		}
		return nil
	}
	p.resolveCol(m, nil)
	if m.col == nil {
		return nil
	}
	return colExpr{m.table.Name, m.col.Name}
}

// isRankMeasure reports whether the mention after "by" is what to rank
// by (a numeric column or money) rather than a grouping key.
func (p *parser) isRankMeasure(m *mention) bool {
	hasTop := false
	for i := range p.toks {
		if p.at(i, "top") || p.at(i, "most") || p.at(i, "highest") || p.at(i, "best") || p.at(i, "largest") {
			hasTop = true
		}
	}
	if !hasTop {
		return false
	}
	if m.kind == mColumn {
		for _, l := range m.links {
			if l.col != nil && (l.col.Kind == KindNumber || l.col.Kind == KindInt) && !isIDName(l.col.Name) {
				return true
			}
		}
	}
	return false
}

func isIDName(n string) bool {
	w := splitName(n)
	return len(w) > 0 && w[len(w)-1] == "id"
}

// labelCols are the columns that name a row: a person's first and last
// name, else name/title-like columns, else the primary key.
func labelCols(t *Table) []*Column {
	var first, last *Column
	var named []*Column
	for _, c := range t.Columns {
		w := lemmas(splitName(c.Name))
		k := strings.Join(w, " ")
		switch {
		case k == "first name" || k == "firstname" || k == "given name":
			first = c
		case k == "last name" || k == "lastname" || k == "surname" || k == "family name":
			last = c
		case c.Kind == KindText && (k == "name" || k == "title" || strings.HasSuffix(k, " name") || strings.HasSuffix(k, " title")) && !strings.Contains(k, "user"):
			named = append(named, c)
		}
	}
	if first != nil && last != nil {
		return []*Column{first, last}
	}
	if len(named) > 0 {
		// Prefer the column named exactly name/title, or after the table.
		sort.SliceStable(named, func(i, j int) bool { return labelRank(t, named[i]) < labelRank(t, named[j]) })
		return named[:1]
	}
	var pk []*Column
	for _, k := range t.PrimaryKey {
		if c := t.Column(k); c != nil {
			pk = append(pk, c)
		}
	}
	return pk
}

func labelRank(t *Table, c *Column) int {
	k := strings.Join(lemmas(splitName(c.Name)), " ")
	switch {
	case k == "name":
		return 0
	case k == strings.Join(lemmas(splitName(t.Name)), " ")+" name":
		return 1
	case k == "title":
		return 2
	}
	return 3
}

// isPerson reports whether the table's label is a first and last name.
func isPerson(t *Table) bool { return len(labelCols(t)) == 2 }

// --- aggregates ---

var superMax = toSet("maximum max largest highest biggest greatest longest latest newest most")
var superMin = toSet("minimum min smallest lowest least shortest earliest oldest cheapest fewest")

func (p *parser) aggregates(f *frame) error {
	n := len(p.toks)
	rankMode := false
	for i := 0; i < n; i++ {
		if p.at(i, "top") || (i+1 < n && p.toks[i].isNum && (superMax[p.toks[i+1].lem] || superMin[p.toks[i+1].lem])) {
			rankMode = true
		}
	}
	if (p.at(0, "which") || p.at(0, "who") || p.at(0, "what")) && !p.at(1, "is") && !p.at(1, "are") {
		for i := 0; i < n; i++ {
			if superMax[p.toks[i].lem] || superMin[p.toks[i].lem] {
				rankMode = true
			}
		}
	}
	if f.groupTable != nil || f.groupCol != nil {
		for i := 0; i < n; i++ {
			if p.at(i, "most") || p.at(i, "highest") || p.at(i, "top") {
				rankMode = true
			}
		}
	}
	// "the cheapest product", "most expensive product": a superlative
	// before a table picks rows of it, it does not aggregate.
	for i := 0; i < n; i++ {
		if !superMax[p.toks[i].lem] && !superMin[p.toks[i].lem] {
			continue
		}
		k := i + 1
		if (p.toks[i].lem == "most" || p.toks[i].lem == "least") && k < n && !p.toks[k].isNum {
			k++
		}
		if k < n {
			if m := p.byTok[k]; m != nil && m.kind == mTable {
				rankMode = true
			}
		}
		// "the singer with the largest net worth": the row with it.
		if i > 1 && (p.at(i-2, "with", "the") || p.at(i-2, "has", "the") || p.at(i-2, "have", "the") || p.at(i-2, "having", "the")) {
			if m := p.nextMention(i+1, 1); m != nil && m.kind == mColumn && len(numericLinks(m.links)) > 0 {
				rankMode = true
			}
		}
	}
	for i := 0; i < n; i++ {
		switch {
		case p.at(i, "average", "number", "of") || p.at(i, "avg", "number", "of") || p.at(i, "mean", "number", "of"):
			// "average number of tracks per album": AVG over per-group counts.
			if m := p.nextMention(i+3, 2); m != nil && m.kind == mTable && f.groupTable != nil {
				f.main = p.bestTable(m)
				m.used = true
				f.nestedAvg = f.groupTable
				p.mark(i, 3)
				p.understood = append(p.understood, "average number of "+f.main.Name+" per "+f.groupTable.Name)
				return nil
			}
		}
	}
	for i := 0; i < n; i++ {
		t := p.toks[i]
		switch {
		case p.at(i, "how", "many") || p.at(i, "number", "of") || p.at(i, "count", "of") || p.at(i, "count") || t.low == "#" ||
			p.at(i, "total", "number", "of"):
			k := 1
			switch {
			case p.at(i, "how", "many") || p.at(i, "number", "of") || p.at(i, "count", "of"):
				k = 2
			case p.at(i, "total", "number", "of"):
				k = 3
			}
			p.kill(i, k)
			if t.low == "#" && p.at(i+1, "of") {
				p.mark(i+1, 1)
				k = 2
			}
			m := p.nextMention(i+k, 3)
			ms := measure{fn: aggCount, pos: i}
			if d := i + k; d < n && (p.at(d, "different") || p.at(d, "distinct") || p.at(d, "unique")) {
				// "how many different results": COUNT(DISTINCT result).
				if cm := p.nextMention(d+1, 2); cm != nil && cm.kind == mColumn && !cm.used {
					p.resolveCol(cm, f.tables)
					if cm.col != nil {
						cm.used = true
						p.mark(d, 1)
						f.measures = append(f.measures, measure{fn: aggCount, pos: i, table: cm.table, col: cm.col, distinct: true})
						p.understood = append(p.understood, "count of distinct "+cm.table.Name+"."+cm.col.Name)
						i += k - 1
						continue
					}
				}
			}
			if m != nil && m.kind == mTable && !m.used {
				ms.counts = p.bestTable(m)
				m.used = true
			} else if m != nil && m.kind == mColumn && !m.used && p.at(i, "count") {
				p.resolveCol(m, nil)
				ms.counts = m.table
				m.used = true
			}
			if ms.counts != nil {
				f.measures = append(f.measures, ms)
				if f.main == nil && f.groupTable == nil && f.groupCol == nil && f.groupTime == "" {
					f.main = ms.counts
				}
				p.understood = append(p.understood, "count of "+ms.counts.Name)
			} else {
				f.measures = append(f.measures, ms)
				p.understood = append(p.understood, "count")
			}
			i += k - 1
		case p.at(i, "how", "much"):
			p.mark(i, 2)
			ms, err := p.moneyMeasure(f, aggSum)
			if err != nil {
				return err
			}
			f.measures = append(f.measures, ms)
		case (t.lem == "average" || t.lem == "avg" || t.lem == "mean") && !p.at(i-1, "than") && !p.at(i-2, "than"):
			p.mark(i, 1)
			ms, err := p.numericAfter(f, i+1, aggAvg)
			if err != nil {
				return err
			}
			f.measures = append(f.measures, ms)
		case (t.lem == "sum" || t.lem == "total") && !p.at(i+1, "number"):
			// "total sales", "sum of price"; "in total"; a bare "total"
			// column ("the invoice total") stays a column.
			j := i + 1
			if p.at(j, "of") {
				j++
			}
			if p.hasAggBefore(f) && t.lem == "total" {
				continue
			}
			inTotal := p.at(i-1, "in") && (i == len(p.toks)-1 || p.toks[i+1].punct)
			if inTotal && len(f.measures) > 0 {
				p.kill(i, 1)
				continue
			}
			if m := p.measureAt(j, 2); m || (t.lem == "sum") || inTotal {
				var ms measure
				var err error
				if cm := p.nextMention(j, 1); cm != nil && cm.kind == mColumn && !isMoneyMention(p, j) {
					ms, err = p.numericAfter(f, j, aggSum)
				} else {
					ms, err = p.moneyMeasure(f, aggSum)
				}
				if err != nil {
					return err
				}
				p.kill(i, 1)
				f.measures = append(f.measures, ms)
			}
		case t.lem == "range" && !rankMode:
			p.mark(i, 1)
			m := p.prevMention(i-1, 2)
			if m == nil || m.kind != mColumn {
				m = p.nextMention(i+1, 3)
			}
			if m != nil && m.kind == mColumn {
				p.resolveCol(m, f.tables)
				if m.col != nil {
					m.used = true
					f.measures = append(f.measures, measure{fn: aggMin, table: m.table, col: m.col}, measure{fn: aggMax, table: m.table, col: m.col})
				}
			}
		case (superMax[t.lem] || superMin[t.lem]) && !rankMode && t.lem != "most" && t.lem != "least":
			fn := aggMax
			if superMin[t.lem] {
				fn = aggMin
			}
			p.mark(i, 1)
			ms, err := p.numericAfter(f, i+1, fn)
			if err != nil {
				return err
			}
			f.measures = append(f.measures, ms)
		}
	}
	// "smallest and largest invoice totals": both aggregates share the column.
	for k := range f.measures {
		if (f.measures[k].fn == aggMin || f.measures[k].fn == aggMax) && f.measures[k].col == nil {
			for _, o := range f.measures {
				if o.col != nil && (o.fn == aggMin || o.fn == aggMax) {
					f.measures[k].col, f.measures[k].table = o.col, o.table
				}
			}
		}
		if f.measures[k].fn != aggCount && f.measures[k].col == nil && f.measures[k].expr == nil {
			return &Unanswerable{Reason: "an aggregate names no numeric column", Unmapped: p.contentWords(), Tables: tableNames(p.s)}
		}
	}
	if rankMode {
		p.ranking(f)
	}
	return nil
}

func (p *parser) hasAggBefore(f *frame) bool {
	for _, m := range f.measures {
		if m.fn == aggAvg || m.fn == aggMin || m.fn == aggMax {
			return true
		}
	}
	return false
}

func isMoneyMention(p *parser, j int) bool {
	return p.measureWord(j)
}

// measureWord reports whether token i names an amount of money: a measure
// word that does not qualify the table named after it ("sales agent").
func (p *parser) measureWord(i int) bool {
	if i < 0 || i >= len(p.toks) || !measureWords[p.toks[i].lem] {
		return false
	}
	if i+1 < len(p.toks) {
		if m := p.byTok[i+1]; m != nil && m.kind == mTable {
			return false
		}
	}
	return true
}

// measureAt reports whether a money word or numeric column comes within
// max tokens of i.
func (p *parser) measureAt(i, max int) bool {
	for k := i; k < len(p.toks) && k < i+max; k++ {
		if p.measureWord(k) {
			return true
		}
		if m := p.byTok[k]; m != nil && m.kind == mColumn {
			for _, l := range m.links {
				if l.col != nil && (l.col.Kind == KindNumber || l.col.Kind == KindInt) && !isIDName(l.col.Name) {
					return true
				}
			}
		}
		if p.toks[k].punct {
			return false
		}
	}
	return false
}

// numericAfter finds the numeric column an aggregate applies to: the next
// numeric column mention, a money word, or a duration.
func (p *parser) numericAfter(f *frame, i int, fn aggKind) (measure, error) {
	for k := i; k < len(p.toks) && k < i+5; k++ {
		t := p.toks[k]
		if t.punct {
			break
		}
		if p.measureWord(k) {
			p.mark(k, 1)
			return p.moneyMeasure(f, fn)
		}
		m := p.byTok[k]
		if m == nil || m.kind == mValue {
			continue
		}
		if m.kind == mColumn {
			var tables []*Table
			tables = append(tables, f.tables...)
			if pm := p.prevMention(m.start-1, 1); pm != nil && pm.kind == mTable {
				tables = append([]*Table{p.bestTable(pm)}, tables...)
			}
			cands := numericLinks(m.links)
			if len(cands) == 0 {
				continue
			}
			mm := &mention{kind: mColumn, links: cands, start: m.start, end: m.end}
			p.byTok[m.start] = m
			p.resolveColIn(mm, tables)
			if mm.col == nil {
				continue
			}
			m.used = true
			m.table, m.col = mm.table, mm.col
			ms := measure{fn: fn, table: mm.table, col: mm.col}
			p.unitConvert(&ms, m.end)
			p.understood = append(p.understood, strings.ToLower(string(fn))+" of "+mm.table.Name+"."+mm.col.Name)
			return ms, nil
		}
		if m.kind == mTable {
			// "average invoice total": the table qualifies the next word.
			continue
		}
	}
	return measure{fn: fn}, nil
}

func numericLinks(ls []link) []link {
	var out []link
	for _, l := range ls {
		if l.col != nil && (l.col.Kind == KindNumber || l.col.Kind == KindInt) && !isIDName(l.col.Name) {
			out = append(out, l)
		}
	}
	return out
}

func (p *parser) resolveColIn(m *mention, tables []*Table) {
	if m.start > 0 {
		if pm := p.byTok[m.start-1]; pm != nil && pm.kind == mTable {
			t := p.bestTable(pm)
			for _, l := range m.links {
				if l.table == t {
					m.table, m.col = l.table, l.col
					return
				}
			}
		}
	}
	p.resolveCol(m, tables)
}

// unitConvert applies "in minutes" / "in hours" to a duration measure.
func (p *parser) unitConvert(ms *measure, after int) {
	unit := durationUnit(ms.col)
	if unit == 0 {
		return
	}
	for k := after; k < len(p.toks) && k < after+3; k++ {
		if p.at(k, "in") {
			if d := unitSeconds(p.toks[k+1].lem); d > 0 && k+1 < len(p.toks) {
				p.mark(k, 2)
				ms.expr = binExpr{colExpr{ms.table.Name, ms.col.Name}, "/", litExpr{d / unit}}
				ms.label = strings.ToLower(string(ms.fn)) + "_" + p.toks[k+1].lem + "s"
				return
			}
		}
	}
}

func unitSeconds(w string) float64 {
	switch w {
	case "millisecond":
		return 0.001
	case "second", "sec":
		return 1
	case "minute", "min":
		return 60
	case "hour":
		return 3600
	case "day":
		return 86400
	}
	return 0
}

// durationUnit is the unit of a duration column in seconds (0: not one).
func durationUnit(c *Column) float64 {
	if c == nil || (c.Kind != KindInt && c.Kind != KindNumber) {
		return 0
	}
	w := lemmas(splitName(c.Name))
	for _, x := range w {
		switch x {
		case "millisecond", "milli", "msec":
			return 0.001
		case "second", "sec":
			return 1
		case "minute":
			return 60
		}
	}
	return 0
}

// moneyMeasure resolves "sales", "revenue", "money", "amount" to the best
// money column reachable without counting a row twice.
func (p *parser) moneyMeasure(f *frame, fn aggKind) (measure, error) {
	type cand struct {
		t      *Table
		c      *Column
		qty    *Column
		priceT *Table // the table of c when it is not t (the product of the line t)
		score  int
	}
	var cands []cand
	for _, t := range p.s.Tables {
		var qty *Column
		for _, c := range t.Columns {
			w := strings.Join(lemmas(splitName(c.Name)), " ")
			if w == "qty" || w == "quantity" || strings.HasSuffix(w, " qty") {
				qty = c
			}
		}
		for _, c := range t.Columns {
			if c.Kind != KindNumber && c.Kind != KindInt {
				continue
			}
			w := lemmas(splitName(c.Name))
			last := w[len(w)-1]
			score := 0
			switch last {
			case "total", "amount", "revenue", "sale", "sum":
				score = 3
			case "price", "cost":
				score = 1
				if qty != nil {
					score = 2
				} else if lq, lt := p.lineQuantity(t); lq != nil {
					// price on the product, quantity on the order line
					cands = append(cands, cand{lt, c, lq, t, 2 + 2*b2i(containsTable(p.namedTables(), t) || containsTable(p.namedTables(), lt))})
					continue
				}
			default:
				continue
			}
			if containsTable(p.namedTables(), t) {
				score += 2
			}
			cands = append(cands, cand{t, c, qty, nil, score})
		}
	}
	anchor := f.groupTable
	if anchor == nil && f.groupCol != nil {
		p.resolveCol(f.groupCol, p.namedTables())
		anchor = f.groupCol.table
	}
	best := -1
	for i, c := range cands {
		if anchor != nil && !p.noFanOut(anchor, c.t) {
			continue
		}
		if best < 0 || c.score > cands[best].score {
			best = i
		}
	}
	if best < 0 {
		return measure{}, &Unanswerable{Reason: "no money column (total, amount, price) can answer this", Unmapped: p.contentWords(), Tables: tableNames(p.s)}
	}
	c := cands[best]
	for i, t := range p.toks {
		if p.measureWord(i) || t.lem == "breakdown" {
			p.mark(i, 1)
		}
	}
	ms := measure{fn: fn, table: c.t, col: c.c}
	if c.priceT != nil {
		ms.expr = binExpr{colExpr{c.priceT.Name, c.c.Name}, "*", colExpr{c.t.Name, c.qty.Name}}
		ms.also = c.priceT
		ms.label = strings.ToLower(string(fn)) + "_revenue"
	} else if c.score%3 == 2 && c.qty != nil && c.score != 3 {
		ms.expr = binExpr{colExpr{c.t.Name, c.c.Name}, "*", colExpr{c.t.Name, c.qty.Name}}
		ms.label = strings.ToLower(string(fn)) + "_revenue"
	}
	p.understood = append(p.understood, strings.ToLower(string(fn))+" of "+c.t.Name+"."+c.c.Name)
	return ms, nil
}

// consumeTable marks the mentions of t as consumed: the SQL uses the table
// through a key of another (an average per group of a foreign key).
func (p *parser) consumeTable(t *Table) {
	for _, m := range p.ms {
		if m.kind == mTable && p.bestTable(m) == t {
			p.mark(m.start, m.end-m.start)
		}
	}
}

// lineQuantity is the quantity column of a table with a foreign key to t
// (the order lines of a product), when exactly one table has one.
func (p *parser) lineQuantity(t *Table) (*Column, *Table) {
	var qc *Column
	var qt *Table
	for _, o := range p.s.Tables {
		if o == t || keyTo(o, t) == nil {
			continue
		}
		for _, c := range o.Columns {
			w := strings.Join(lemmas(splitName(c.Name)), " ")
			if (w == "qty" || w == "quantity" || strings.HasSuffix(w, " qty") || strings.HasSuffix(w, " quantity")) && c.Kind == KindInt {
				if qc != nil {
					return nil, nil
				}
				qc, qt = c, o
			}
		}
	}
	return qc, qt
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (p *parser) namedTables() []*Table {
	var out []*Table
	for _, m := range p.ms {
		if m.kind == mTable {
			out = append(out, p.bestTable(m))
		}
	}
	return out
}

// ranking sets ORDER BY measure DESC/ASC LIMIT n for "top N", "which X
// has the most Y", "the N longest Z".
func (p *parser) ranking(f *frame) {
	var rankMarks []int
	rmark := func(i, n int) {
		p.mark(i, n)
		for k := i; k < i+n; k++ {
			rankMarks = append(rankMarks, k)
		}
	}
	n := len(p.toks)
	limit := 0
	desc := true
	for i := 0; i < n; i++ {
		t := p.toks[i]
		switch {
		case p.at(i, "top") && i+1 < n && p.toks[i+1].isNum:
			limit = int(p.toks[i+1].num)
			rmark(i, 2)
		case p.at(i, "top"):
			limit = 1
			rmark(i, 1)
		case t.isNum && i+1 < n && (superMax[p.toks[i+1].lem] || superMin[p.toks[i+1].lem]):
			limit = int(t.num)
			desc = !superMin[p.toks[i+1].lem]
			rmark(i, 2)
			if len(f.measures) == 0 {
				// "the 10 longest tracks": order by the column the word implies.
				if c, tb := p.impliedColumn(p.toks[i+1].lem, i+2); c != nil {
					f.orderBy = colExpr{tb.Name, c.Name}
					f.orderDesc = desc
				} else if c, tb := p.rankColumn(f, i+2); c != nil {
					// "the top 3 largest population"
					f.orderBy = colExpr{tb.Name, c.Name}
					f.orderDesc = desc
				}
			}
			i++
		case superMax[t.lem] || superMin[t.lem]:
			if limit == 0 {
				limit = 1
			}
			desc = !superMin[t.lem]
			rmark(i, 1)
			if len(f.measures) == 0 && f.groupTable == nil && f.groupCol == nil {
				var adjCol *Column
				var adjTable *Table
				if (t.lem == "most" || t.lem == "least") && i+1 < n {
					adjCol, adjTable = p.impliedColumn(p.toks[i+1].low, i+2)
				}
				if adjCol != nil {
					// "most expensive product": the adjective names the column.
					f.orderBy = colExpr{adjTable.Name, adjCol.Name}
					f.orderDesc = desc
					rmark(i+1, 1)
				} else if c, tb := p.rankColumn(f, i+1); c != nil {
					f.orderBy = colExpr{tb.Name, c.Name}
					f.orderDesc = desc
				} else if m := p.nextMention(i+1, 2); m != nil && m.kind == mTable && t.lem == "most" {
					// "which genre has the most tracks": count per named entity.
					f.measures = append(f.measures, measure{fn: aggCount, counts: p.bestTable(m)})
					m.used = true
					p.groupByFirstOther(f, p.bestTable(m))
				} else if c, tb := p.impliedColumn(t.lem, i+1); c != nil {
					f.orderBy = colExpr{tb.Name, c.Name}
					f.orderDesc = desc
				}
			}
		}
	}
	if limit > 0 {
		f.limit = limit
	}
	if len(f.measures) > 0 && f.orderBy == nil {
		f.rankAgg = true
		f.orderDesc = desc
	}
	if f.limit > 0 && len(f.measures) == 0 && f.orderBy == nil {
		// "the 5 largest countries" with nothing to order by: the
		// superlative is not understood, its words stay unaccounted.
		for _, k := range rankMarks {
			p.consumed[k] = false
		}
		f.limit = 0
	}
	// "top 5 customers by total purchase amount": group by the named entity.
	if len(f.measures) == 0 && f.orderBy == nil {
		for i := 0; i < n; i++ {
			if p.at(i, "by") {
				if m := p.nextMention(i+1, 3); m != nil && m.kind == mColumn {
					// "top 5 products by price": the listed rows ordered by
					// their own column.
					if c, tb := p.ownNumeric(m); c != nil {
						p.mark(i, 1)
						m.used = true
						m.col, m.table = c, tb
						f.orderBy = colExpr{tb.Name, c.Name}
						f.orderDesc = desc
						continue
					}
					ms, err := p.numericAfter(f, m.start, aggSum)
					if err == nil && ms.col != nil {
						p.mark(i, 1)
						f.measures = append(f.measures, ms)
						f.rankAgg = true
						f.orderDesc = desc
					}
				} else if p.measureWord(min(i+1, n-1)) || p.measureAt(i+1, 3) {
					if ms, err := p.moneyMeasure(f, aggSum); err == nil {
						p.mark(i, 1)
						f.measures = append(f.measures, ms)
						f.rankAgg = true
						f.orderDesc = desc
					}
				}
			}
		}
	}
	if len(f.measures) > 0 && f.groupTable == nil && f.groupCol == nil && f.groupTime == "" {
		counted, mt := f.measures[0].counts, f.measures[0].table
		for _, m := range p.ms {
			if m.used || m.kind == mValue {
				continue
			}
			if m.kind == mTable {
				t := p.bestTable(m)
				if t == counted || t == mt {
					continue
				}
				f.groupTable = t
				m.used = true
				break
			}
			var pref []*Table
			if counted != nil {
				pref = append(pref, counted)
			}
			if mt != nil {
				pref = append(pref, mt)
			}
			p.resolveCol(m, pref, pref...)
			if m.col != nil && m.col.Kind == KindText {
				f.groupCol = m
				m.used = true
				break
			}
		}
	}
}

// rankColumn is the numeric column named right after token i-1 (a
// superlative): "the largest net worth" orders by net_worth. The mention is
// consumed.
func (p *parser) rankColumn(f *frame, i int) (*Column, *Table) {
	m := p.nextMention(i, 1)
	if m == nil || m.kind != mColumn {
		return nil, nil
	}
	cands := numericLinks(m.links)
	if len(cands) == 0 {
		return nil, nil
	}
	mm := &mention{kind: mColumn, links: cands, start: m.start, end: m.end}
	p.resolveColIn(mm, append([]*Table{f.main}, p.namedTables()...))
	if mm.col == nil {
		return nil, nil
	}
	m.used, m.col, m.table = true, mm.col, mm.table
	if !containsTable(f.tables, mm.table) {
		f.tables = append(f.tables, mm.table)
	}
	return mm.col, mm.table
}

// ownNumeric is the numeric column m names in a table the question names as
// a table ("products by price"), or nil.
func (p *parser) ownNumeric(m *mention) (*Column, *Table) {
	named := p.namedTables()
	for _, l := range m.links {
		if l.col != nil && (l.col.Kind == KindNumber || l.col.Kind == KindInt) && !isIDName(l.col.Name) && containsTable(named, l.table) {
			return l.col, l.table
		}
	}
	return nil, nil
}

// groupByFirstOther groups by the first named table other than counted.
func (p *parser) groupByFirstOther(f *frame, counted *Table) {
	for _, m := range p.ms {
		if m.kind == mTable && p.bestTable(m) != counted {
			f.groupTable = p.bestTable(m)
			m.used = true
			return
		}
	}
}

// impliedColumn is the column a comparative or superlative word implies:
// longest -> a duration, most expensive -> a price, latest -> a date.
func (p *parser) impliedColumn(word string, after int) (*Column, *Table) {
	var tables []*Table
	if m := p.nextMention(after, 3); m != nil && m.kind == mTable {
		tables = append(tables, p.bestTable(m))
	}
	tables = append(tables, p.namedTables()...)
	for _, t := range tables {
		for _, c := range t.Columns {
			switch word {
			case "longest", "shortest", "long", "longer", "shorter":
				if durationUnit(c) > 0 {
					return c, t
				}
			case "expensive", "cheapest", "cheaper", "pricey":
				if w := lemmas(splitName(c.Name)); (w[len(w)-1] == "price" || w[len(w)-1] == "cost") && c.Kind != KindText {
					return c, t
				}
			case "latest", "newest", "earliest", "oldest", "recent":
				if c.Kind == KindDate || c.Kind == KindTime {
					return c, t
				}
			}
		}
	}
	return nil, nil
}

// --- filters ---

var compareOps = []struct {
	words []string
	op    string
	word  string // implied column word
}{
	{[]string{"more", "expensive", "than"}, ">", "expensive"},
	{[]string{"greater", "than", "or", "equal", "to"}, ">=", ""},
	{[]string{"less", "than", "or", "equal", "to"}, "<=", ""},
	{[]string{"more", "than"}, ">", ""}, {[]string{"greater", "than"}, ">", ""}, {[]string{"larger", "than"}, ">", ""},
	{[]string{"bigger", "than"}, ">", ""}, {[]string{"higher", "than"}, ">", ""}, {[]string{"longer", "than"}, ">", "longer"},
	{[]string{"shorter", "than"}, "<", "shorter"}, {[]string{"cheaper", "than"}, "<", "cheaper"},
	{[]string{"less", "than"}, "<", ""}, {[]string{"fewer", "than"}, "<", ""}, {[]string{"lower", "than"}, "<", ""},
	{[]string{"smaller", "than"}, "<", ""}, {[]string{"at", "least"}, ">=", ""}, {[]string{"at", "most"}, "<=", ""},
	{[]string{"no", "more", "than"}, "<=", ""}, {[]string{"over"}, ">", ""}, {[]string{"above"}, ">", ""},
	{[]string{"exceeding"}, ">", ""}, {[]string{"under"}, "<", ""}, {[]string{"below"}, "<", ""},
	{[]string{"exactly"}, "=", ""}, {[]string{"equal", "to"}, "=", ""},
}

func (p *parser) filters(f *frame) error {
	n := len(p.toks)
	// Values.
	sameCol := map[*Column]int{}
	for _, m := range p.ms {
		if m.kind != mValue {
			continue
		}
		if len(m.vals) == 0 {
			// A quoted string that is no known value: compare it with the
			// text column named just before it.
			pm := p.prevMention(m.start-1, 1)
			if pm != nil && pm.kind == mColumn {
				p.resolveCol(pm, f.tables, f.main)
				if pm.col != nil && pm.col.Kind == KindText {
					pm.used = true
					f.filters = append(f.filters, filter{e: binExpr{colExpr{pm.table.Name, pm.col.Name}, "=", litExpr{p.toks[m.start].raw}},
						desc: pm.table.Name + "." + pm.col.Name + " = " + p.toks[m.start].raw, tbl: pm.table})
					continue
				}
			}
			return &Unanswerable{Reason: fmt.Sprintf("the value %q was found in no column", p.toks[m.start].raw), Tables: tableNames(p.s)}
		}
		ref := p.pickValue(m, f)
		// A column named just before the value is the one it belongs to.
		if pm := p.prevMention(m.start-1, 1); pm != nil && pm.kind == mColumn {
			for _, v := range m.vals {
				if p.refersToOther(v, m.vals) {
					continue
				}
				for _, l := range pm.links {
					if l.col == v.col {
						ref = v
						pm.used = true
					}
				}
			}
		}
		if k, ok := sameCol[ref.col]; ok {
			if m.start > 0 && p.at(m.start-1, "and") && (ref.table != f.main || p.otherContext(ref.table)) {
				// "documents with paragraphs 'Brazil' and 'Ireland'": rows
				// with both, or with either? Not decided here.
				return &Unanswerable{Reason: fmt.Sprintf("%q and the value before it are two values of %s.%s, which %s rows may have several of: both or either is not clear",
					joinRaw(p.toks[m.start:m.end]), ref.table.Name, ref.col.Name, f.main.Name), Understood: p.understood, Tables: tableNames(p.s)}
			}
			// "Rock or Jazz tracks": two values of one column are either.
			in := f.filters[k].e.(inExpr)
			in.vals = append(in.vals, litExpr{ref.value})
			f.filters[k].e = in
			f.filters[k].desc += " or " + ref.value
			continue
		}
		sameCol[ref.col] = len(f.filters)
		f.filters = append(f.filters, filter{e: inExpr{e: colExpr{ref.table.Name, ref.col.Name}, vals: []sqlExpr{litExpr{ref.value}}},
			desc: ref.table.Name + "." + ref.col.Name + " = " + ref.value, tbl: ref.table})
		if !containsTable(f.tables, ref.table) {
			f.tables = append(f.tables, ref.table)
		}
	}
	for i := 0; i < n; i++ {
		t := p.toks[i]
		// Comparisons with numbers, durations, money, dates and "the average".
		for _, co := range compareOps {
			if !p.at(i, co.words...) {
				continue
			}
			j := i + len(co.words)
			if err := p.comparison(f, i, j, co.op, co.word); err != nil {
				return err
			}
			i = j - 1
			break
		}
		if t.isNum && t.hash || (t.isNum && i > 0 && (p.at(i-1, "id") || p.at(i-1, "number") || p.at(i-1, "no")) && !p.consumedAsLimit(i)) {
			p.idEquality(f, i)
		}
	}
	p.dates(f)
	p.negatedValues(f)
	p.negations(f)
	p.nulls(f)
	// Column mention directly followed by a number: equality ("invoice id 37").
	for _, m := range p.ms {
		if m.kind == mColumn && !m.used && m.end < n && p.toks[m.end].isNum && !p.toks[m.end].hash {
			p.resolveCol(m, f.tables, f.main)
			if m.col != nil && (m.col.Kind == KindInt || m.col.Kind == KindNumber) {
				m.used = true
				p.mark(m.end, 1)
				f.filters = append(f.filters, filter{e: binExpr{colExpr{m.table.Name, m.col.Name}, "=", litExpr{p.toks[m.end].num}},
					desc: m.table.Name + "." + m.col.Name + " = " + p.toks[m.end].raw, tbl: m.table})
				if !containsTable(f.tables, m.table) {
					f.tables = append(f.tables, m.table)
				}
			}
		}
	}
	return nil
}

func (p *parser) consumedAsLimit(i int) bool { return false }

// idEquality: "customer #5", "invoice number 12", "order id 7".
func (p *parser) idEquality(f *frame, i int) {
	k := i - 1
	if !p.toks[i].hash {
		k = i - 2
	}
	m := p.prevMention(k, 1)
	if m == nil {
		return
	}
	var t *Table
	switch m.kind {
	case mTable:
		t = p.bestTable(m)
	case mColumn:
		p.resolveCol(m, f.tables, f.main)
		if m.col != nil && (m.col.Kind == KindInt || m.col.Kind == KindNumber) {
			m.used = true
			f.filters = append(f.filters, filter{e: binExpr{colExpr{m.table.Name, m.col.Name}, "=", litExpr{p.toks[i].num}},
				desc: m.table.Name + "." + m.col.Name + " = " + p.toks[i].raw, tbl: m.table})
			p.mark(i-1, 2)
			return
		}
	}
	if t == nil || len(t.PrimaryKey) != 1 {
		return
	}
	p.mark(i-1, 2)
	f.filters = append(f.filters, filter{e: binExpr{colExpr{t.Name, t.PrimaryKey[0]}, "=", litExpr{p.toks[i].num}},
		desc: t.Name + "." + t.PrimaryKey[0] + " = " + p.toks[i].raw, tbl: t})
}

func (p *parser) comparison(f *frame, i, j int, op, word string) error {
	n := len(p.toks)
	if j >= n {
		return nil
	}
	// "longer than the average track length"
	if p.at(j, "the", "average") || p.at(j, "average") || p.at(j, "the", "mean") {
		k := j + 1
		if p.at(j, "the") {
			k = j + 2
		}
		col, tb := p.compareColumn(f, i, k, word)
		if col == nil {
			return &Unanswerable{Reason: "cannot tell which column to compare with the average", Tables: tableNames(p.s)}
		}
		p.mark(i, k-i)
		sub := &selectQ{items: []selItem{{e: aggExpr{fn: "AVG", arg: colExpr{tb.Name, col.Name}}}}, from: tb.Name}
		f.filters = append(f.filters, filter{e: binExpr{colExpr{tb.Name, col.Name}, op, subqExpr{sub}},
			desc: tb.Name + "." + col.Name + " " + op + " its average", tbl: tb})
		return nil
	}
	// "above age 20": the column between the comparison and the number.
	if m := p.byTok[j]; m != nil && m.kind == mColumn && m.end < n && p.toks[m.end].isNum {
		cands := numericLinks(m.links)
		if len(cands) > 0 {
			mm := &mention{kind: mColumn, links: cands, start: m.start, end: m.end}
			p.resolveColIn(mm, append([]*Table{f.main}, f.tables...))
			if mm.col != nil {
				k := m.end
				m.used = true
				p.mark(i, k-i+1)
				f.filters = append(f.filters, filter{e: binExpr{colExpr{mm.table.Name, mm.col.Name}, op, litExpr{p.toks[k].num}},
					desc: fmt.Sprintf("%s.%s %s %s", mm.table.Name, mm.col.Name, op, p.toks[k].raw), tbl: mm.table})
				if !containsTable(f.tables, mm.table) {
					f.tables = append(f.tables, mm.table)
				}
				return nil
			}
		}
	}
	if !p.toks[j].isNum {
		return nil
	}
	num := p.toks[j].num
	p.mark(i, j-i+1)
	// "with more than 10 albums": a count of related rows.
	if m := p.nextMention(j+1, 1); m != nil && m.kind == mTable && !p.toks[j].money {
		t := p.bestTable(m)
		m.used = true
		f.having = append(f.having, binExpr{aggExpr{fn: "COUNT", arg: pkExpr(t)}, op, litExpr{num}})
		f.havDesc = fmt.Sprintf("count of %s %s %s", t.Name, op, p.toks[j].raw)
		if !containsTable(f.tables, t) {
			f.tables = append(f.tables, t)
		}
		return nil
	}
	// A year compared with a date: "after 2002".
	col, tb := p.compareColumn(f, i, j+1, word)
	if col == nil {
		return &Unanswerable{Reason: fmt.Sprintf("cannot tell which column to compare with %s", p.toks[j].raw), Tables: tableNames(p.s)}
	}
	val := num
	if u := durationUnit(col); u > 0 && j+1 < n {
		if s := unitSeconds(p.toks[j+1].lem); s > 0 {
			val = num * s / u
			p.mark(j+1, 1)
		}
	}
	f.filters = append(f.filters, filter{e: binExpr{colExpr{tb.Name, col.Name}, op, litExpr{val}},
		desc: fmt.Sprintf("%s.%s %s %v", tb.Name, col.Name, op, val), tbl: tb})
	if !containsTable(f.tables, tb) {
		f.tables = append(f.tables, tb)
	}
	return nil
}

func pkExpr(t *Table) sqlExpr {
	if len(t.PrimaryKey) > 0 {
		return colExpr{t.Name, t.PrimaryKey[0]}
	}
	return nil
}

// compareColumn finds the numeric column of a comparison: a numeric column
// named just before the cue ("tracks that cost more than"), one after the
// number, or the column the comparative implies ("longer" -> duration).
func (p *parser) compareColumn(f *frame, i, after int, word string) (*Column, *Table) {
	if word != "" {
		if c, t := p.impliedColumn(word, after); c != nil {
			return c, t
		}
	}
	try := func(m *mention) (*Column, *Table) {
		if m == nil || m.kind != mColumn {
			return nil, nil
		}
		cands := numericLinks(m.links)
		if len(cands) == 0 {
			return nil, nil
		}
		mm := &mention{kind: mColumn, links: cands, start: m.start, end: m.end}
		p.resolveColIn(mm, append([]*Table{f.main}, f.tables...))
		if mm.col != nil {
			m.used = true
		}
		return mm.col, mm.table
	}
	if c, t := try(p.prevMention(i-1, 2)); c != nil {
		return c, t
	}
	if c, t := try(p.nextMention(after, 2)); c != nil {
		return c, t
	}
	return nil, nil
}

func (p *parser) pickValue(m *mention, f *frame) valueRef {
	best, bs := m.vals[0], -1.0
	for _, v := range m.vals {
		if p.refersToOther(v, m.vals) {
			continue // the same value in the key it refers to
		}
		s := 0.0
		if v.table == f.main {
			s += 2
		}
		if containsTable(f.tables, v.table) {
			s += 1
		}
		if pm := p.prevMention(m.start-1, 4); pm != nil && pm.kind == mTable && p.bestTable(pm) == v.table {
			s += 2.5
		}
		if v.value == p.toks[m.start].raw || strings.EqualFold(v.value, joinRaw(p.toks[m.start:m.end])) {
			s += 0.5
		}
		// A value that is an entity's name ("AC/DC" the artist) rather than
		// an attribute of another table's rows (a track's composer).
		if ls := labelCols(v.table); len(ls) == 1 && ls[0] == v.col {
			s += 0.4
		}
		s -= float64(len(v.col.Values)) / 10000
		if s > bs {
			best, bs = v, s
		}
	}
	return best
}

// refersToOther reports whether v's column is a foreign key to the column of
// another of vals: the value is the parent's, the child only refers to it.
func (p *parser) refersToOther(v valueRef, vals []valueRef) bool {
	for _, fk := range v.table.ForeignKeys {
		if len(fk.Columns) != 1 || !strings.EqualFold(fk.Columns[0], v.col.Name) {
			continue
		}
		for _, o := range vals {
			if strings.EqualFold(o.table.Name, fk.RefTable) && strings.EqualFold(o.col.Name, fk.RefColumns[0]) {
				return true
			}
		}
	}
	return false
}

func joinRaw(ts []token) string {
	var ps []string
	for _, t := range ts {
		ps = append(ps, t.raw)
	}
	return strings.Join(ps, " ")
}

var monthNames = map[string]int{"january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
	"august": 8, "september": 9, "october": 10, "november": 11, "december": 12, "jan": 1, "feb": 2, "mar": 3, "apr": 4,
	"jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12}

func isYear(t token) bool {
	return t.isNum && t.num == math.Trunc(t.num) && t.num >= 1900 && t.num <= 2100 && !t.money
}

// dates turns calendar and relative phrases into ranges on the date column.
func (p *parser) dates(f *frame) {
	n := len(p.toks)
	type rng struct {
		from, to time.Time
		desc     string
	}
	var ranges []rng
	var bound []filter
	var dateMention *mention
	day := func(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }
	today := day(p.now.Year(), int(p.now.Month()), p.now.Day())
	for i := 0; i < n; i++ {
		t := p.toks[i]
		switch {
		case (p.at(i, "after") || p.at(i, "since") || p.at(i, "before")) && i+1 < n && isYear(p.toks[i+1]):
			y := int(p.toks[i+1].num)
			p.mark(i, 2)
			switch {
			case p.at(i, "after"):
				bound = append(bound, filter{e: litExpr{day(y+1, 1, 1).Format("2006-01-02")}, desc: ">="})
			case p.at(i, "since"):
				bound = append(bound, filter{e: litExpr{day(y, 1, 1).Format("2006-01-02")}, desc: ">="})
			default:
				bound = append(bound, filter{e: litExpr{day(y, 1, 1).Format("2006-01-02")}, desc: "<"})
			}
			i++
		case p.at(i, "last") && i+2 < n && p.toks[i+1].isNum && unitSeconds(p.toks[i+2].lem) >= 86400 || p.at(i, "last") && i+2 < n && p.toks[i+1].isNum && (p.at(i+2, "week") || p.at(i+2, "month") || p.at(i+2, "year")):
			k := int(p.toks[i+1].num)
			var from time.Time
			switch p.toks[i+2].lem {
			case "day":
				from = today.AddDate(0, 0, -k)
			case "week":
				from = today.AddDate(0, 0, -7*k)
			case "month":
				from = today.AddDate(0, -k, 0)
			case "year":
				from = today.AddDate(-k, 0, 0)
			}
			p.mark(i, 3)
			ranges = append(ranges, rng{from, today.AddDate(0, 0, 1), fmt.Sprintf("the last %d %ss", k, p.toks[i+2].lem)})
			i += 2
		case (p.at(i, "last") || p.at(i, "this") || p.at(i, "previous") || p.at(i, "past")) && i+1 < n && (p.at(i+1, "month") || p.at(i+1, "year") || p.at(i+1, "week") || p.at(i+1, "quarter")):
			cur := !p.at(i, "last") && !p.at(i, "previous") && !p.at(i, "past")
			var from, to time.Time
			switch p.toks[i+1].lem {
			case "month":
				from = day(p.now.Year(), int(p.now.Month()), 1)
				to = from.AddDate(0, 1, 0)
				if !cur {
					from, to = from.AddDate(0, -1, 0), from
				}
			case "year":
				from = day(p.now.Year(), 1, 1)
				to = from.AddDate(1, 0, 0)
				if !cur {
					from, to = from.AddDate(-1, 0, 0), from
				}
			case "week":
				wd := (int(today.Weekday()) + 6) % 7
				from = today.AddDate(0, 0, -wd)
				to = from.AddDate(0, 0, 7)
				if !cur {
					from, to = from.AddDate(0, 0, -7), from
				}
			case "quarter":
				q := (int(p.now.Month()) - 1) / 3
				from = day(p.now.Year(), q*3+1, 1)
				to = from.AddDate(0, 3, 0)
				if !cur {
					from, to = from.AddDate(0, -3, 0), from
				}
			}
			p.mark(i, 2)
			ranges = append(ranges, rng{from, to, p.toks[i].low + " " + p.toks[i+1].lem})
			i++
		case p.at(i, "today"):
			p.mark(i, 1)
			ranges = append(ranges, rng{today, today.AddDate(0, 0, 1), "today"})
		case p.at(i, "yesterday"):
			p.mark(i, 1)
			ranges = append(ranges, rng{today.AddDate(0, 0, -1), today, "yesterday"})
		case len(t.low) == 2 && (t.low[0] == 'q') && t.low[1] >= '1' && t.low[1] <= '4':
			q := int(t.low[1] - '0')
			y := p.now.Year()
			if i+1 < n && isYear(p.toks[i+1]) {
				y = int(p.toks[i+1].num)
				p.mark(i+1, 1)
			} else if i > 0 && isYear(p.toks[i-1]) {
				y = int(p.toks[i-1].num)
			}
			p.mark(i, 1)
			from := day(y, (q-1)*3+1, 1)
			ranges = append(ranges, rng{from, from.AddDate(0, 3, 0), fmt.Sprintf("Q%d %d", q, y)})
		case monthNames[t.low] > 0 && (t.cap || i+1 < n && isYear(p.toks[i+1])) && !(t.low == "may" && !t.cap):
			y := p.now.Year()
			if i+1 < n && isYear(p.toks[i+1]) {
				y = int(p.toks[i+1].num)
				p.mark(i+1, 1)
			}
			p.mark(i, 1)
			from := day(y, monthNames[t.low], 1)
			ranges = append(ranges, rng{from, from.AddDate(0, 1, 0), fmt.Sprintf("%s %d", t.raw, y)})
			i++
		case isYear(t) && !p.consumed[i] || isYear(t) && i > 0 && (p.at(i-1, "in") || p.at(i-1, "year") || p.at(i-1, "during") || p.at(i-1, "of") || p.at(i-1, "from")):
			if p.byTok[i] != nil {
				continue
			}
			// A bare year: "in 2023", "from the year 2022", "2021 and 2023".
			if i > 0 && (p.at(i-1, "top") || p.at(i-1, "first")) {
				continue
			}
			y := int(t.num)
			p.mark(i, 1)
			if i > 0 && p.at(i-1, "year") {
				p.mark(i-1, 1)
			}
			ranges = append(ranges, rng{day(y, 1, 1), day(y+1, 1, 1), strconv.Itoa(y)})
		}
	}
	if len(ranges) == 0 && len(bound) == 0 {
		return
	}
	// The date column: one named in the question, else the main table's.
	var col *Column
	var tb *Table
	for _, m := range p.ms {
		if m.kind != mColumn {
			continue
		}
		for _, l := range m.links {
			if l.col != nil && (l.col.Kind == KindDate || l.col.Kind == KindTime) && (col == nil || l.table == f.main) {
				col, tb, dateMention = l.col, l.table, m
			}
		}
	}
	if col == nil {
		col, tb = dateColumn(f.main)
		if col == nil {
			for _, t := range f.tables {
				if col, tb = dateColumn(t); col != nil {
					break
				}
			}
		}
		if col == nil && len(f.measures) > 0 && f.measures[0].table != nil {
			col, tb = dateColumn(f.measures[0].table)
		}
	}
	if col == nil {
		p.penalty += 0.6
		return
	}
	if dateMention != nil {
		dateMention.used = true
	}
	ce := colExpr{tb.Name, col.Name}
	if len(ranges) > 0 {
		var e sqlExpr
		var descs []string
		for _, r := range ranges {
			x := binExpr{binExpr{ce, ">=", litExpr{r.from.Format("2006-01-02")}}, "AND", binExpr{ce, "<", litExpr{r.to.Format("2006-01-02")}}}
			if e == nil {
				e = x
			} else {
				e = binExpr{e, "OR", x}
			}
			descs = append(descs, r.desc)
		}
		f.filters = append(f.filters, filter{e: e, desc: tb.Name + "." + col.Name + " in " + strings.Join(descs, " or "), tbl: tb})
	}
	for _, b := range bound {
		f.filters = append(f.filters, filter{e: binExpr{ce, b.desc, b.e}, desc: tb.Name + "." + col.Name + " " + b.desc + " " + b.e.render(p.r), tbl: tb})
	}
	if f.groupTime != "" && f.groupTimeC == nil {
		f.groupTimeC = col
	}
	if !containsTable(f.tables, tb) {
		f.tables = append(f.tables, tb)
	}
}

// dateColumn is a table's date column: the only one, or the one named after
// the table ("invoice_date" in invoice).
func dateColumn(t *Table) (*Column, *Table) {
	if t == nil {
		return nil, nil
	}
	var ds []*Column
	for _, c := range t.Columns {
		if c.Kind == KindDate || c.Kind == KindTime {
			ds = append(ds, c)
		}
	}
	if len(ds) == 1 {
		return ds[0], t
	}
	tw := strings.Join(lemmas(splitName(t.Name)), " ")
	for _, c := range ds {
		w := strings.Join(lemmas(splitName(c.Name)), " ")
		if strings.HasPrefix(w, tw) || w == "date" || w == "created at" || w == "order date" {
			return c, t
		}
	}
	return nil, nil
}

// nulls: "with NULL composer", "whose company is not specified", "who do
// not have a manager", "without a fax".
func (p *parser) nulls(f *frame) {
	n := len(p.toks)
	add := func(m *mention, emptyToo bool) {
		p.resolveCol(m, f.tables, f.main)
		if m.col == nil || !m.col.Nullable {
			return
		}
		m.used = true
		ce := colExpr{m.table.Name, m.col.Name}
		var e sqlExpr = postfixExpr{ce, "IS NULL"}
		desc := m.table.Name + "." + m.col.Name + " is null"
		if emptyToo && m.col.Kind == KindText {
			e = binExpr{e, "OR", binExpr{ce, "=", litExpr{""}}}
			desc += " or empty"
		}
		f.filters = append(f.filters, filter{e: e, desc: desc, tbl: m.table})
	}
	for i := 0; i < n; i++ {
		if p.consumed[i] {
			continue
		}
		switch {
		case p.at(i, "null") || p.at(i, "no") || p.at(i, "without") || p.at(i, "missing") && p.byTok[i+1] != nil:
			if m := p.nextMention(i+1, 1); m != nil && m.kind == mColumn {
				p.mark(i, 1)
				add(m, p.at(i, "missing"))
			}
		case p.at(i, "not", "have") || p.at(i, "don't", "have") || p.at(i, "doesn't", "have") || p.at(i, "has", "no") || p.at(i, "have", "no"):
			if m := p.nextMention(i+2, 1); m != nil && m.kind == mColumn {
				p.mark(i, 2)
				add(m, false)
			}
		case p.at(i, "is", "null") || p.at(i, "is", "not", "specified") || p.at(i, "not", "specified") || p.at(i, "is", "empty") ||
			p.at(i, "is", "missing") || p.at(i, "is", "unknown") || p.at(i, "is", "blank") || p.at(i, "unspecified"):
			if m := p.prevMention(i-1, 1); m != nil && m.kind == mColumn {
				k := 2
				if p.at(i, "is", "not", "specified") {
					k = 3
				}
				p.mark(i, k)
				add(m, !p.at(i, "is", "null"))
			}
		}
	}
}

// ordering: "sorted by title", "alphabetically", "first 10 tracks",
// "in descending order".
func (p *parser) ordering(f *frame) {
	n := len(p.toks)
	for i := 0; i < n; i++ {
		switch {
		case p.at(i, "alphabetically") || p.at(i, "alphabetical"):
			p.mark(i, 1)
			if f.orderBy == nil {
				if l := labelCols(f.main); len(l) > 0 {
					f.orderBy = colExpr{f.main.Name, l[len(l)-1].Name}
				}
			}
		case p.at(i, "descending") || p.at(i, "desc") || p.at(i, "reverse"):
			p.mark(i, 1)
			f.orderDesc = true
		case p.at(i, "ascending") || p.at(i, "asc"):
			p.mark(i, 1)
			f.orderDesc = false
		case (p.at(i, "first") || p.at(i, "last")) && i+1 < n && p.toks[i+1].isNum && !(i+2 < n && (p.timeUnit(i+2) != "" || p.at(i+2, "week"))):
			f.limit = int(p.toks[i+1].num)
			p.mark(i, 2)
			if f.orderBy == nil && len(f.main.PrimaryKey) > 0 {
				f.orderBy = colExpr{f.main.Name, f.main.PrimaryKey[0]}
				f.orderDesc = p.at(i, "last")
			}
		case (p.at(i, "sorted") || p.at(i, "ordered") || p.at(i, "sort")) && f.orderBy == nil:
			p.mark(i, 1)
		}
	}
}

// --- building the SQL ---

func (p *parser) build(f *frame) (string, string, error) {
	q := &selectQ{from: f.main.Name}
	var expl []string

	if f.nestedAvg != nil {
		return p.buildNestedAvg(f)
	}
	p.semiJoins(f)
	grouped := f.groupTable != nil || f.groupCol != nil || f.groupTime != ""
	hasAgg := len(f.measures) > 0
	// Count per entity: FROM the entity, LEFT JOIN what is counted.
	root := f.main
	left := false
	if grouped && f.groupTable != nil {
		root = f.groupTable
		for _, m := range f.measures {
			if m.fn == aggCount {
				left = true
			}
		}
	}
	if hasAgg && !grouped && len(f.having) == 0 {
		// A bare aggregate: count of main, or the measures' table.
		if f.measures[0].table != nil && f.measures[0].fn != aggCount {
			root = f.measures[0].table
		}
		if f.measures[0].fn == aggCount && f.measures[0].counts != nil {
			root = f.measures[0].counts
		}
	}
	if len(f.having) > 0 && !grouped {
		// "artists with more than 10 albums": group the main table.
		f.groupTable = f.main
		grouped = true
		left = true
	}
	q.from = root.Name
	need := []*Table{root}
	add := func(t *Table) {
		if t != nil && !containsTable(need, t) {
			need = append(need, t)
		}
	}
	add(f.main)
	for _, t := range f.tables {
		add(t)
	}
	for _, m := range f.measures {
		add(m.table)
		add(m.counts)
		add(m.also)
	}
	for _, fl := range f.filters {
		add(fl.tbl)
	}
	for _, m := range f.extra {
		add(m.table)
	}
	if f.groupCol != nil {
		p.resolveCol(f.groupCol, need, f.main)
		if f.groupCol.col == nil {
			return "", "", &Unanswerable{Reason: "cannot tell what to group by", Tables: tableNames(p.s)}
		}
		add(f.groupCol.table)
	}
	for _, m := range f.distinct {
		add(m.table)
	}
	joins, err := p.joinTree(root, need, left)
	if err != nil {
		return "", "", err
	}
	q.joins = joins

	for _, fl := range f.filters {
		q.where = append(q.where, fl.e)
		expl = append(expl, fl.desc)
	}
	switch {
	case len(f.distinct) > 0 && !hasAgg:
		q.distinct = true
		for _, m := range f.distinct {
			q.items = append(q.items, selItem{e: colExpr{m.table.Name, m.col.Name}})
		}
		p.understood = append(p.understood, "distinct values")
	case grouped:
		var groupDesc string
		switch {
		case f.groupTable != nil:
			g := f.groupTable
			pk := pkExpr(g)
			if pk == nil {
				return "", "", &Unanswerable{Reason: fmt.Sprintf("table %s has no primary key to group by", g.Name), Tables: tableNames(p.s)}
			}
			q.items = append(q.items, selItem{e: starExpr{g.Name}})
			p.aliasColumns(q, g)
			if isPerson(g) {
				l := labelCols(g)
				q.items = append(q.items, selItem{e: concatExpr{[]sqlExpr{colExpr{g.Name, l[0].Name}, colExpr{g.Name, l[1].Name}}}, alias: q.alias(snake(g.Name) + "_full_name")})
			}
			q.group = append(q.group, pk)
			for _, c := range g.Columns {
				if c.Name != g.PrimaryKey[0] {
					q.group = append(q.group, colExpr{g.Name, c.Name})
				}
			}
			groupDesc = "grouped by " + g.Name
		case f.groupCol != nil:
			ce := colExpr{f.groupCol.table.Name, f.groupCol.col.Name}
			q.items = append(q.items, selItem{e: ce})
			q.group = append(q.group, ce)
			groupDesc = "grouped by " + f.groupCol.table.Name + "." + f.groupCol.col.Name
		default:
			dc, dt := dateColumn(root)
			if f.groupTimeC != nil {
				dc, dt = f.groupTimeC, root
				for _, t := range need {
					if t.Column(dc.Name) == dc {
						dt = t
					}
				}
			}
			if dc == nil {
				return "", "", &Unanswerable{Reason: "no date column to group by " + strings.ToLower(f.groupTime), Tables: tableNames(p.s)}
			}
			e := extractExpr{f.groupTime, colExpr{dt.Name, dc.Name}}
			if f.groupTime != "YEAR" {
				ye := extractExpr{"YEAR", colExpr{dt.Name, dc.Name}}
				q.items = append(q.items, selItem{e: ye, alias: q.alias("year")})
				q.group = append(q.group, ye)
			}
			q.items = append(q.items, selItem{e: e, alias: q.alias(strings.ToLower(f.groupTime))})
			q.group = append(q.group, e)
			if f.groupTime != "YEAR" {
				q.order = append(q.order, orderItem{e: extractExpr{"YEAR", colExpr{dt.Name, dc.Name}}})
			}
			q.order = append(q.order, orderItem{e: e})
			groupDesc = "grouped by " + strings.ToLower(f.groupTime) + " of " + dt.Name + "." + dc.Name
		}
		if !hasAgg && len(f.having) == 0 {
			f.measures = append(f.measures, measure{fn: aggCount, counts: f.main})
		}
		for _, m := range f.measures {
			e, alias := p.measureExpr(m, f)
			q.items = append(q.items, selItem{e: e, alias: q.alias(alias)})
			expl = append([]string{describe(m)}, expl...)
		}
		for _, h := range f.having {
			q.having = append(q.having, h)
			q.items = append(q.items, selItem{e: h.(binExpr).l, alias: q.alias("count")})
		}
		if f.havDesc != "" {
			expl = append(expl, "keeping groups with "+f.havDesc)
		}
		expl = append(expl, groupDesc)
	case hasAgg:
		for _, m := range f.measures {
			e, alias := p.measureExpr(m, f)
			q.items = append(q.items, selItem{e: e, alias: q.alias(alias)})
			expl = append([]string{describe(m)}, expl...)
		}
	default:
		q.items = append(q.items, selItem{e: starExpr{f.main.Name}})
		p.aliasColumns(q, f.main)
		if isPerson(f.main) {
			l := labelCols(f.main)
			q.items = append(q.items, selItem{e: concatExpr{[]sqlExpr{colExpr{f.main.Name, l[0].Name}, colExpr{f.main.Name, l[1].Name}}}, alias: q.alias(snake(f.main.Name) + "_full_name")})
		}
		shown := map[*Column]bool{}
		for _, t := range need {
			if t == f.main || !p.named(f, t) || !p.noFanOut(t, f.main) {
				continue
			}
			ls := labelCols(t)
			if len(ls) == 2 {
				q.items = append(q.items, selItem{e: concatExpr{[]sqlExpr{colExpr{t.Name, ls[0].Name}, colExpr{t.Name, ls[1].Name}}}, alias: q.alias(snake(t.Name) + "_name")})
			} else {
				for _, c := range ls {
					q.items = append(q.items, selItem{e: colExpr{t.Name, c.Name}, alias: q.alias(snake(t.Name) + "_" + snake(c.Name))})
					shown[c] = true
				}
			}
		}
		for _, m := range f.extra {
			if m.table == f.main || shown[m.col] {
				p.mark(m.start, m.end-m.start) // shown by the table's columns
				continue
			}
			if !p.noFanOut(m.table, f.main) {
				// A column of a table with many rows per listed row would
				// repeat the listed rows; it is not shown (and its words
				// stay unaccounted).
				continue
			}
			shown[m.col] = true
			q.items = append(q.items, selItem{e: colExpr{m.table.Name, m.col.Name}, alias: q.alias(snake(m.table.Name) + "_" + snake(m.col.Name))})
		}
		expl = append([]string{"Listed rows of " + f.main.Name}, expl...)
	}
	if f.rankAgg && len(f.measures) > 0 {
		q.order = append([]orderItem{{e: rawAlias{q.items[p.firstMeasureIndex(q, f)].alias}, desc: f.orderDesc}}, q.order...)
		expl = append(expl, "ranked "+map[bool]string{true: "highest", false: "lowest"}[f.orderDesc]+" first")
	} else if f.orderBy != nil {
		q.order = []orderItem{{e: f.orderBy, desc: f.orderDesc}}
		expl = append(expl, "ordered by "+strings.ReplaceAll(f.orderBy.render(p.r), p.r.q(""), ""))
	}
	if f.limit > 0 {
		q.limit = f.limit
		expl = append(expl, fmt.Sprintf("first %d rows", f.limit))
	}
	if len(q.joins) > 0 {
		var js []string
		for _, j := range q.joins {
			js = append(js, j.rel)
		}
		expl = append(expl, "joined with "+strings.Join(js, ", ")+" along foreign keys")
	}
	text := strings.Join(expl, "; ")
	if len(text) > 0 {
		text = strings.ToUpper(text[:1]) + text[1:] + "."
	}
	p.showDurations(q, f)
	q.pruneJoins(p.r)
	p.uses = q.uses(p.r)
	return q.render(p.r), text, nil
}

// aliasColumns marks table's column names as used output names.
func (p *parser) aliasColumns(q *selectQ, t *Table) {
	for _, c := range t.Columns {
		q.alias(c.Name)
	}
}

func (p *parser) firstMeasureIndex(q *selectQ, f *frame) int {
	for i, it := range q.items {
		if _, ok := it.e.(aggExpr); ok && it.alias != "" {
			return i
		}
		if it.alias != "" && (strings.HasPrefix(it.alias, "count") || strings.HasPrefix(it.alias, "sum") || strings.HasPrefix(it.alias, "avg") || strings.HasPrefix(it.alias, "min") || strings.HasPrefix(it.alias, "max")) {
			return i
		}
	}
	return len(q.items) - 1
}

func (p *parser) named(f *frame, t *Table) bool {
	if containsTable(f.fkNamed, t) {
		return true
	}
	for _, m := range p.ms {
		if m.kind == mTable && p.bestTable(m) == t {
			return true
		}
	}
	return false
}

func describe(m measure) string {
	switch {
	case m.fn == aggCount && m.counts != nil:
		return "Counted rows of " + m.counts.Name
	case m.fn == aggCount:
		return "Counted rows"
	}
	if m.also != nil {
		b, _ := m.expr.(binExpr)
		l, okl := b.l.(colExpr)
		r, okr := b.r.(colExpr)
		if okl && okr {
			return fmt.Sprintf("%s of %s.%s × %s.%s", strings.ToLower(string(m.fn)), l.rel, l.col, r.rel, r.col)
		}
	}
	return fmt.Sprintf("%s of %s.%s", strings.ToLower(string(m.fn)), m.table.Name, m.col.Name)
}

func snake(name string) string { return strings.Join(splitName(name), "_") }

func (p *parser) measureExpr(m measure, f *frame) (sqlExpr, string) {
	if m.fn == aggCount && m.distinct && m.col != nil {
		return aggExpr{fn: "COUNT", arg: colExpr{m.table.Name, m.col.Name}, distinct: true}, "count_distinct_" + snake(m.col.Name)
	}
	if m.fn == aggCount {
		t := m.counts
		if t == nil {
			return aggExpr{fn: "COUNT"}, "count"
		}
		alias := snake(t.Name) + "_count"
		if pk := pkExpr(t); pk != nil {
			return aggExpr{fn: "COUNT", arg: pk}, alias
		}
		return aggExpr{fn: "COUNT"}, alias
	}
	var arg sqlExpr = colExpr{m.table.Name, m.col.Name}
	if m.expr != nil {
		arg = m.expr
	}
	alias := m.label
	if alias == "" {
		alias = strings.ToLower(string(m.fn)) + "_" + snake(m.col.Name)
	}
	return aggExpr{fn: string(m.fn), arg: arg}, alias
}

func (p *parser) buildNestedAvg(f *frame) (string, string, error) {
	g := f.nestedAvg
	var fk *ForeignKey
	for i, k := range f.main.ForeignKeys {
		if strings.EqualFold(k.RefTable, g.Name) && len(k.Columns) == 1 {
			fk = &f.main.ForeignKeys[i]
			break
		}
	}
	if fk == nil {
		return "", "", &Unanswerable{Reason: fmt.Sprintf("%s has no foreign key to %s", f.main.Name, g.Name), Tables: tableNames(p.s)}
	}
	inner := &selectQ{from: f.main.Name,
		items: []selItem{{e: colExpr{f.main.Name, fk.Columns[0]}}, {e: aggExpr{fn: "COUNT"}, alias: "n"}},
		group: []sqlExpr{colExpr{f.main.Name, fk.Columns[0]}}}
	p.consumeTable(g)
	outer := &selectQ{from: "per_" + snake(g.Name), fromSub: inner,
		items: []selItem{{e: aggExpr{fn: "AVG", arg: colExpr{"per_" + snake(g.Name), "n"}}, alias: "avg_" + snake(f.main.Name) + "_per_" + snake(g.Name)}}}
	p.uses = outer.uses(p.r)
	return outer.render(p.r), fmt.Sprintf("Averaged the number of %s rows per %s.", f.main.Name, g.Name), nil
}

// joinTree joins every needed table to root along the shortest foreign-key
// paths (a Steiner tree approximation: each table is joined by its
// shortest path to the tree built so far). Self-references are ignored.
func (p *parser) joinTree(root *Table, need []*Table, left bool) ([]joinClause, error) {
	in := map[*Table]bool{root: true}
	var joins []joinClause
	for _, t := range need {
		if in[t] {
			continue
		}
		path := p.shortestPath(in, t)
		if path == nil {
			return nil, &Unanswerable{Reason: fmt.Sprintf("no foreign-key path joins %s to %s", t.Name, root.Name), Tables: tableNames(p.s)}
		}
		for _, e := range path {
			if in[e.to] {
				continue
			}
			if n := keysBetween(e.child, e.parent); n > 1 {
				return nil, &Unanswerable{Reason: fmt.Sprintf("%s refers to %s through %d different keys; the question does not say which one", e.child.Name, e.parent.Name, n),
					Tables: tableNames(p.s)}
			}
			in[e.to] = true
			var on []sqlExpr
			for k := range e.fk.Columns {
				on = append(on, binExpr{colExpr{e.child.Name, e.fk.Columns[k]}, "=", colExpr{e.parent.Name, e.fk.RefColumns[k]}})
			}
			joins = append(joins, joinClause{left: left, rel: e.to.Name, on: on})
		}
	}
	return joins, nil
}

type edge struct {
	from, to      *Table
	child, parent *Table
	fk            *ForeignKey
}

// keysBetween counts child's foreign keys to parent.
func keysBetween(child, parent *Table) int {
	n := 0
	for _, fk := range child.ForeignKeys {
		if strings.EqualFold(fk.RefTable, parent.Name) {
			n++
		}
	}
	return n
}

func (p *parser) edges(t *Table) []edge {
	var out []edge
	for i := range t.ForeignKeys {
		fk := &t.ForeignKeys[i]
		ref := p.s.Table(fk.RefTable)
		if ref == nil || ref == t {
			continue
		}
		out = append(out, edge{from: t, to: ref, child: t, parent: ref, fk: fk})
	}
	for _, o := range p.s.Tables {
		if o == t {
			continue
		}
		for i := range o.ForeignKeys {
			fk := &o.ForeignKeys[i]
			if strings.EqualFold(fk.RefTable, t.Name) {
				out = append(out, edge{from: t, to: o, child: o, parent: t, fk: fk})
			}
		}
	}
	return out
}

// shortestPath is a breadth-first search from the tree to target.
func (p *parser) shortestPath(tree map[*Table]bool, target *Table) []edge {
	prev := map[*Table]edge{}
	seen := map[*Table]bool{}
	var queue []*Table
	for _, t := range p.s.Tables {
		if tree[t] {
			queue = append(queue, t)
			seen[t] = true
		}
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == target {
			var path []edge
			for !tree[cur] {
				e := prev[cur]
				path = append([]edge{e}, path...)
				cur = e.from
			}
			return path
		}
		for _, e := range p.edges(cur) {
			if !seen[e.to] {
				seen[e.to] = true
				prev[e.to] = e
				queue = append(queue, e.to)
			}
		}
	}
	return nil
}

// parentOf reports whether the first step from a towards b goes from a
// parent to its children (b is reached through rows that belong to a).
func (p *parser) parentOf(a, b *Table) bool {
	path := p.shortestPath(map[*Table]bool{a: true}, b)
	return len(path) > 0 && path[0].parent == a
}

// noFanOut reports whether every step from a to b goes from a parent to
// its children (or stays), so that b's rows are not repeated per a row.
func (p *parser) noFanOut(a, b *Table) bool {
	if a == b {
		return true
	}
	path := p.shortestPath(map[*Table]bool{a: true}, b)
	if path == nil {
		return false
	}
	for _, e := range path {
		if e.to == e.parent { // child -> parent: many rows share one parent row
			return false
		}
	}
	return true
}
