package nlp

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// The deterministic translator is a pipeline of stages, each in its own
// file:
//
//   - tokenize (lexicon.go): words, numbers, quoted strings, lemmas;
//   - link (link.go, compound.go): mentions of tables, columns and values,
//     longest first, against the tenant's lexicon and value index;
//   - interpret (frame.go, aggregate.go, rank.go, filter.go, dates.go,
//     negation.go): the intent frame — main table, measures, groups,
//     filters, anti- and semi-joins, ordering, limit — each construct
//     marking the words it consumed;
//   - plan (join.go): the join tree along foreign keys;
//   - render (build.go, sql.go, duration.go): a SELECT tree in the tenant's
//     dialect, with every identifier quoted and every value escaped;
//   - verify (coverage.go, confidence.go): every content word accounted for
//     by the SQL or the question is declined; the confidence says what was
//     chosen without the question deciding it. The caller then parses the
//     SQL and checks it against the policy like a human's.

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
	// Mongo is what runs on a MongoDB tenant (Request.Schema.Dialect ==
	// Mongo): the pipeline rendered from the same query tree as SQL, which
	// is then only a readable account of it.
	Mongo *MongoQuery `json:"mongo,omitempty"`
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
func (d *Deterministic) Translate(ctx context.Context, req Request) (tr *Translation, err error) {
	defer func() {
		// Fail closed: a question the stages trip over is declined, never
		// answered and never the end of the process.
		if r := recover(); r != nil {
			tr, err = nil, &Unanswerable{Reason: fmt.Sprintf("the question could not be interpreted (%v)", r)}
		}
	}()
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
	p.toks = rewriteComparisons(tokenize(req.Question))
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
	query    *selectQ   // the built query tree
	ctx      map[*Table]bool

	understood []string
	penalty    float64
	// dateDoubts are the doubts of the date stage (dates.go): a period
	// whose year the question does not give. monthValues are the value
	// mentions of words also read as a month.
	dateDoubts  []doubt
	monthValues []*mention
	f           *frame // the interpretation the SQL was built from
	oneImplied  bool   // a superlative without a number set the limit to 1 (rank.go)
}

func (p *parser) run() (*Translation, error) {
	p.link()
	f, err := p.frame()
	if err != nil {
		return nil, err
	}
	p.f = f
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
	tr := &Translation{SQL: sql, Explanation: expl, Confidence: conf, Source: "deterministic"}
	if p.s.Dialect == Mongo {
		mq, err := renderMongo(p.s, p.query)
		if err != nil {
			return nil, &Unanswerable{Reason: err.Error(), Understood: p.understood, Tables: tableNames(p.s)}
		}
		tr.Mongo = mq
	}
	return tr, nil
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
