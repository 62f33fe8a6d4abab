package nlp

import (
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// token is one word, number or quoted string of a question.
type token struct {
	raw    string  // as written (quotes removed)
	low    string  // lower case
	lem    string  // lemma: lower case, singular, canonical abbreviation
	num    float64 // value when isNum
	isNum  bool
	quoted bool // a "quoted" or 'quoted' string
	money  bool // written with a currency sign
	hash   bool // written as #N
	cap    bool // starts with an upper-case letter (and is not the first word)
	punct  bool // a lone punctuation mark that ends a phrase (, ; ? ! .)
}

// tokenize splits a question into tokens. Quoted strings are one token;
// "AC/DC", "O'Brien" and "3.5" stay whole; CamelCase words are split.
func tokenize(q string) []token {
	var out []token
	rs := []rune(q)
	first := true
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
			continue
		case r == '`' && i+1 < len(rs) && rs[i+1] == '`':
			// ``Little Lever Urban District'': a typeset quotation.
			rest := rs[i+2:]
			end := -1
			for k := 0; k+1 < len(rest); k++ {
				if rest[k] == '\'' && rest[k+1] == '\'' {
					end = k
					break
				}
			}
			if s := strings.TrimSpace(string(rest[:max(end, 0)])); s != "" {
				out = append(out, token{raw: s, low: strings.ToLower(s), lem: strings.ToLower(s), quoted: true})
				i += 2 + end + 2
				first = false
				continue
			}
			i += 2
			continue
		case r == '"' || r == '“' || r == '”' || r == '‘' || (r == '\'' && (i == 0 || !isWordRune(rs[i-1]))):
			closeR := r
			if r == '“' {
				closeR = '”'
			}
			if r == '‘' {
				closeR = '’'
			}
			j := i + 1
			for j < len(rs) && rs[j] != closeR && !(closeR == '"' && rs[j] == '”') {
				j++
			}
			if j < len(rs) && j > i+1 {
				s := strings.TrimSpace(string(rs[i+1 : j]))
				out = append(out, token{raw: s, low: strings.ToLower(s), lem: strings.ToLower(s), quoted: true})
				i = j + 1
				first = false
				continue
			}
			i++
			continue
		case r == ',' || r == ';' || r == '?' || r == '!' || r == ':' || r == '(' || r == ')':
			out = append(out, token{raw: string(r), low: string(r), lem: string(r), punct: true})
			i++
			continue
		case r == '.':
			if i+1 < len(rs) && unicode.IsDigit(rs[i+1]) {
				break
			}
			out = append(out, token{raw: ".", low: ".", lem: ".", punct: true})
			first = true
			i++
			continue
		}
		j := i
		for j < len(rs) && !unicode.IsSpace(rs[j]) && !strings.ContainsRune(",;?!:()\"“”", rs[j]) {
			if rs[j] == '.' && (j+1 >= len(rs) || !unicode.IsDigit(rs[j+1])) {
				break
			}
			j++
		}
		if j == i {
			i++
			continue
		}
		w := string(rs[i:j])
		i = j
		w = strings.TrimRight(w, "'")
		if strings.HasSuffix(w, "'s") || strings.HasSuffix(w, "’s") {
			w = strings.TrimSuffix(strings.TrimSuffix(w, "'s"), "’s")
		}
		if w == "" {
			continue
		}
		if strings.Trim(w, "-–—") == "" { // a dash between two phrases
			out = append(out, token{raw: w, low: w, lem: w, punct: true})
			continue
		}
		t := token{raw: w}
		if strings.HasPrefix(w, "$") || strings.HasPrefix(w, "€") || strings.HasPrefix(w, "£") {
			t.money = true
			w = strings.TrimLeft(w, "$€£")
		}
		if strings.HasPrefix(w, "#") && len(w) > 1 {
			t.hash = true
			w = w[1:]
		}
		if n, ok := numberWords[strings.ToLower(w)]; ok && !t.money {
			t.isNum, t.num = true, n
			t.low, t.lem = strings.ToLower(w), strings.ToLower(w)
			out = append(out, t)
			first = false
			continue
		}
		if f, err := strconv.ParseFloat(strings.ReplaceAll(w, ",", ""), 64); err == nil {
			t.isNum, t.num = true, f
			t.low, t.lem = w, w
			out = append(out, t)
			first = false
			continue
		}
		t.cap = !first && unicode.IsUpper([]rune(w)[0])
		first = false
		// Split CamelCase (InvoiceLine) but not acronyms (AC/DC, ID).
		parts := splitCamel(w)
		for k, p := range parts {
			pt := t
			if k > 0 {
				pt.cap = false
			}
			if len(parts) > 1 {
				pt.raw = p
			}
			pt.low = strings.ToLower(p)
			pt.lem = lemma(pt.low)
			out = append(out, pt)
		}
	}
	return out
}

// numberWords are numbers written as words.
var numberWords = map[string]float64{"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
	"eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "hundred": 100, "dozen": 12}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// splitCamel splits "InvoiceLine" into "Invoice", "Line"; words with
// non-letters or all upper case stay whole.
func splitCamel(w string) []string {
	rs := []rune(w)
	upper, lowerSeen := 0, false
	for _, r := range rs {
		if !unicode.IsLetter(r) {
			return []string{w}
		}
		if unicode.IsUpper(r) {
			upper++
		} else {
			lowerSeen = true
		}
	}
	if upper <= 1 || !lowerSeen {
		return []string{w}
	}
	// "COUNTs", "IDs": an upper-case word with a plural s.
	if n := len(rs); n > 2 && rs[n-1] == 's' && upper == n-1 {
		return []string{w}
	}
	var out []string
	start := 0
	for i := 1; i < len(rs); i++ {
		if unicode.IsUpper(rs[i]) && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
			out = append(out, string(rs[start:i]))
			start = i
		}
	}
	return append(out, string(rs[start:]))
}

// splitName splits a schema name (snake_case, CamelCase, kebab) into
// lower-case words.
func splitName(name string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == '-' || r == ' ' || r == '.' }) {
		// Split camel case and digit boundaries: InvoiceLineId -> invoice line id.
		rs := []rune(part)
		start := 0
		for i := 1; i < len(rs); i++ {
			b := false
			switch {
			case unicode.IsUpper(rs[i]) && unicode.IsLower(rs[i-1]):
				b = true
			case unicode.IsUpper(rs[i]) && i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1]):
				b = true
			}
			if b {
				out = append(out, strings.ToLower(string(rs[start:i])))
				start = i
			}
		}
		out = append(out, strings.ToLower(string(rs[start:])))
	}
	return out
}

// irregular plurals and canonical abbreviations.
var lemmaExceptions = map[string]string{
	"people": "person", "men": "man", "women": "woman", "children": "child", "data": "data",
	"indices": "index", "statuses": "status", "addresses": "address", "series": "series",
	"representative": "rep", "representatives": "rep", "quantity": "qty", "quantities": "qty",
	"description": "desc", "descriptions": "desc", "department": "dept", "departments": "dept",
	"identifier": "id", "ids": "id", "telephone": "phone", "emails": "email", "media": "media",
	"sales": "sale", "analysis": "analysis", "this": "this", "is": "is", "was": "was", "has": "has",
	"does": "does", "less": "less", "across": "across", "its": "its", "us": "us", "bus": "bus",
	"status": "status", "class": "class", "business": "business", "address": "address",
	"milliseconds": "millisecond", "ms": "millisecond", "hired": "hire", "hiring": "hire", "born": "birth",
	"birthday": "birth", "bought": "buy", "purchased": "purchase", "sold": "sell",
}

// lemma returns the singular, canonical form of a lower-case word.
func lemma(w string) string {
	if l, ok := lemmaExceptions[w]; ok {
		return l
	}
	n := len(w)
	switch {
	case n <= 3:
		return w
	case strings.HasSuffix(w, "ies") && n > 4:
		return w[:n-3] + "y"
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"):
		return w[:n-2]
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
		return w
	case strings.HasSuffix(w, "s"):
		return w[:n-1]
	}
	return w
}

// synonyms maps a question word (lemma) to schema words it may stand for.
// Kept small and general; tenants add their own through the glossary.
var synonyms = map[string][]string{
	"client": {"customer"}, "buyer": {"customer"}, "purchaser": {"customer"}, "shopper": {"customer"},
	"song": {"track"}, "tune": {"track"},
	"singer": {"artist"}, "band": {"artist"}, "musician": {"artist"}, "performer": {"artist"},
	"staff": {"employee"}, "worker": {"employee"}, "personnel": {"employee"}, "agent": {"employee"},
	"cost": {"price"}, "priced": {"price"}, "expensive": {"price"}, "cheap": {"price"}, "cheaper": {"price"},
	"costly": {"price"}, "pricey": {"price"},
	"manager": {"report", "manager"}, "boss": {"report", "manager"}, "supervisor": {"report", "manager"},
	"report": {"manager", "supervisor"}, "manage": {"manager"}, "managed": {"manager"},
	"kind": {"type"}, "format": {"type"},
	"phone": {"phone"}, "mail": {"email"}, "zip": {"postal"}, "postcode": {"postal"},
	"nation": {"country"}, "town": {"city"}, "gender": {"sex"}, "sex": {"gender"},
	"long": {"millisecond", "duration", "length"}, "length": {"millisecond", "duration", "length"},
	"longer": {"millisecond", "duration", "length"}, "shorter": {"millisecond", "duration", "length"},
	"longest": {"millisecond", "duration", "length"}, "shortest": {"millisecond", "duration", "length"},
	"duration": {"millisecond", "duration", "length"},
	"sku":      {"product"}, "item": {"product", "item", "line"}, "firm": {"company"}, "employer": {"company"},
}

// measureWords name an amount of money, resolved to the best numeric
// money column.
var measureWords = map[string]bool{"sale": true, "revenue": true, "money": true, "income": true, "earning": true,
	"spent": true, "spend": true, "spending": true, "amount": true, "turnover": true, "paid": true, "made": false}

// stopWords carry no schema meaning.
var stopWords = toSet(`a an the of in on at to for from with and or by all any every each me us we our i you your
show list give display find get provide return fetch see view tell what which who whom whose where when how is are was were be been
do does did have has had that this these those there their them they it its as about query only also please want would like
can could will shall should may might must just including include includes included along together resultant result results table
tables database db store data record records entry entries info information detail details available exist existing currently
some such both one s whole set complete full everything anything thing things make made then than not no without`)

// fillerWords may stay unmapped without lowering confidence.
var fillerWords = toSet(`music catalog catalogue system company business shop app application overall respective
associated associate related relate corresponding breakdown column columns field fields row rows value values sorted
order ordered sort alphabetically alphabetical ascending descending asc desc name title`)

func toSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// lexicon is the schema's vocabulary: phrases of lemmas that name tables
// and columns, and the value index.
type lexicon struct {
	phrases map[string][]link
	maxN    int
	values  map[string][]valueRef // lower-case value -> columns holding it
	maxVal  int                   // longest value in words
	words   map[string]bool       // every lemma of a schema name
}

type linkKind uint8

const (
	linkTable linkKind = iota + 1
	linkColumn
)

// link is one reading of a phrase as a schema element.
type link struct {
	kind  linkKind
	table *Table
	col   *Column
	score float64 // 1 exact name, 0.9 glossary, 0.8 synonym, 0.5 one word of a longer name
}

type valueRef struct {
	table *Table
	col   *Column
	value string // as stored
}

// lexCache keeps one lexicon per (schema, glossary).
type lexCache struct {
	mu sync.Mutex
	m  map[*Schema]map[string]*lexicon
}

func (c *lexCache) get(s *Schema, g Glossary) *lexicon {
	key := g.key()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[*Schema]map[string]*lexicon{}
	}
	if lx := c.m[s][key]; lx != nil {
		return lx
	}
	if len(c.m) > 256 { // schemas are replaced on refresh: forget old ones
		c.m = map[*Schema]map[string]*lexicon{}
	}
	lx := buildLexicon(s, g)
	if c.m[s] == nil {
		c.m[s] = map[string]*lexicon{}
	}
	c.m[s][key] = lx
	return lx
}

// Glossary maps a tenant's own words to schema names: a phrase to
// "table" or "table.column" (config key tenants[].glossary).
type Glossary map[string]string

func (g Glossary) key() string {
	if len(g) == 0 {
		return ""
	}
	var b strings.Builder
	for _, k := range sortedKeys(g) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(g[k])
		b.WriteByte(';')
	}
	return b.String()
}

func lemmas(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = lemma(w)
	}
	return out
}

// nameAbbrev expands abbreviated column names.
var nameAbbrev = map[string]string{"fname": "first name", "lname": "last name", "dob": "date of birth", "qty": "quantity",
	"addr": "address", "desc": "description", "num": "number", "amt": "amount"}

// tablePrefixes are naming conventions in front of a table's real name.
var tablePrefixes = toSet("ref tbl lkp lookup lu dim fact")

func buildLexicon(s *Schema, g Glossary) *lexicon {
	lx := &lexicon{phrases: map[string][]link{}, values: map[string][]valueRef{}, words: map[string]bool{}}
	add := func(words []string, l link) {
		if len(words) == 0 {
			return
		}
		k := strings.Join(words, " ")
		for i, old := range lx.phrases[k] {
			if old.kind == l.kind && old.table == l.table && old.col == l.col {
				if l.score > old.score {
					lx.phrases[k][i].score = l.score
				}
				return
			}
		}
		lx.phrases[k] = append(lx.phrases[k], l)
		if len(words) > lx.maxN {
			lx.maxN = len(words)
		}
	}
	heads := map[string][]*Table{}
	tablePhrase := map[string]bool{}
	for _, t := range s.Tables {
		tablePhrase[strings.Join(lemmas(splitName(t.Name)), " ")] = true
	}
	for _, t := range s.Tables {
		tw := lemmas(splitName(t.Name))
		for _, w := range tw {
			lx.words[w] = true
		}
		add(tw, link{kind: linkTable, table: t, score: 1})
		if len(tw) > 1 {
			add([]string{strings.Join(tw, "")}, link{kind: linkTable, table: t, score: 1})
			// "Ref_Template_Types" answers to "template types".
			if tablePrefixes[tw[0]] && !tablePhrase[strings.Join(tw[1:], " ")] {
				add(tw[1:], link{kind: linkTable, table: t, score: 0.9})
			}
			// "line items" are the invoice lines: the head noun of a longer
			// table name, when no table or column has it as its whole name.
			// "name" is every table's label word: "the names of the
			// countries" ask for names, not for the rows of car_names.
			if head := tw[len(tw)-1]; len(head) >= 4 && !tablePhrase[head] && !stopWords[head] && !cueWords[head] && !columnWord(s, head) && head != "name" {
				heads[head] = append(heads[head], t)
			}
		}
		for _, c := range t.Columns {
			cw := lemmas(splitName(c.Name))
			for _, w := range cw {
				lx.words[w] = true
			}
			add(cw, link{kind: linkColumn, table: t, col: c, score: 1})
			for _, v := range verbFormPhrases(cw) { // "arrival date" for date_arrived (verbforms.go)
				add(v, link{kind: linkColumn, table: t, col: c, score: 0.9})
			}
			if len(cw) == 1 && strings.HasSuffix(cw[0], "id") && len(cw[0]) >= 5 {
				// "stuid" of Student is the student id, "petid" of Pets the pet id.
				if stem := strings.TrimSuffix(cw[0], "id"); strings.HasPrefix(tw[0], stem) {
					add([]string{tw[0], "id"}, link{kind: linkColumn, table: t, col: c, score: 0.9})
				}
			}
			if ws := numberName(cw, tw); ws != nil { // "flightno": the flight number (valueprep.go)
				add(ws, link{kind: linkColumn, table: t, col: c, score: 0.9})
			}
			if long, ok := nameAbbrev[strings.Join(cw, " ")]; ok || len(cw) == 2 && len(cw[0]) == 1 && nameAbbrev[strings.Join(cw, "")] != "" {
				if !ok {
					long = nameAbbrev[strings.Join(cw, "")] // "LName" splits to l, name
				}
				// "Fname" is the first name.
				add(strings.Fields(long), link{kind: linkColumn, table: t, col: c, score: 1})
			}
			if len(cw) == 2 && !stopWords[cw[0]] && !stopWords[cw[1]] {
				// "pet type" is also the "type of pet".
				add([]string{cw[1], "of", cw[0]}, link{kind: linkColumn, table: t, col: c, score: 0.9})
			}
			if len(cw) > 1 {
				add([]string{strings.Join(cw, "")}, link{kind: linkColumn, table: t, col: c, score: 1})
				// A column named after its table ("track_name" in track) also
				// answers to the rest of its name.
				if rest := stripPrefix(cw, tw); len(rest) > 0 && len(rest) < len(cw) && !(len(rest) == 1 && rest[0] == "id") {
					add(rest, link{kind: linkColumn, table: t, col: c, score: 0.9})
				}
				if cw[len(cw)-1] == "id" && len(cw) > 1 && !equalWords(cw[:len(cw)-1], tw) && !tablePhrase[strings.Join(cw[:len(cw)-1], " ")] {
					add(cw[:len(cw)-1], link{kind: linkColumn, table: t, col: c, score: 0.9})
				}
				for i, w := range cw {
					if stopWords[w] || w == "id" || w == "to" || w == "of" || w == "by" || w == "at" || w == "is" {
						continue
					}
					if i == len(cw)-1 && cw[len(cw)-1] == "id" {
						continue
					}
					add([]string{w}, link{kind: linkColumn, table: t, col: c, score: 0.5})
				}
			}
			if c.Indexed {
				for _, v := range c.Values {
					k := normValue(v)
					if k == "" {
						continue
					}
					lx.values[k] = append(lx.values[k], valueRef{table: t, col: c, value: v})
					if n := len(strings.Fields(k)); n > lx.maxVal {
						lx.maxVal = n
					}
				}
			}
		}
	}
	for phrase, target := range g {
		words := lemmas(strings.Fields(strings.ToLower(phrase)))
		tn, cn, hasCol := strings.Cut(target, ".")
		t := s.Table(tn)
		if t == nil {
			continue
		}
		if !hasCol {
			add(words, link{kind: linkTable, table: t, score: 0.95})
			continue
		}
		if c := t.Column(cn); c != nil {
			add(words, link{kind: linkColumn, table: t, col: c, score: 0.95})
		}
	}
	// "cars" are the rows of cars_data (tablehead.go).
	for k, t := range genericHeads(s) {
		add(strings.Fields(k), link{kind: linkTable, table: t, score: 0.9})
	}
	for head, ts := range heads {
		if len(ts) == 1 && !hasTableLink(lx.phrases[head]) {
			add([]string{head}, link{kind: linkTable, table: ts[0], score: 0.5})
		}
	}
	return lx
}

func hasTableLink(ls []link) bool {
	for _, l := range ls {
		if l.kind == linkTable {
			return true
		}
	}
	return false
}

// columnWord reports whether some column of s is named word alone.
func columnWord(s *Schema, word string) bool {
	for _, t := range s.Tables {
		for _, c := range t.Columns {
			if strings.Join(lemmas(splitName(c.Name)), " ") == word {
				return true
			}
		}
	}
	return false
}

func equalWords(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func stripPrefix(cw, tw []string) []string {
	if len(cw) <= len(tw) {
		return nil
	}
	for i := range tw {
		if cw[i] != tw[i] {
			return nil
		}
	}
	return cw[len(tw):]
}

// normValue is the lookup form of a value: lower case, single spaces.
func normValue(v string) string {
	return strings.Join(strings.Fields(strings.ToLower(v)), " ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
