package nlp

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Example is a verified question and the SQL that answers it (config key
// tenants[].examples). Question and SQL may hold {name} placeholders; a
// question that matches the template fills them, and each value goes into
// the SQL as an escaped literal of the parameter's type.
type Example struct {
	Question string
	SQL      string
	// Params maps a placeholder to its type: "text" (default) or "number".
	Params map[string]string
}

var placeholder = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// normQuestion is the comparison form of a question: lower case, words
// only, single spaces.
func normQuestion(q string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(q) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '{' || r == '}' || r == '_' || r == '.' || r == '/' || r == '#' || r == '$' {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
			continue
		}
		space = true
	}
	return strings.Trim(b.String(), ". ")
}

// matchExample answers req from a verified example when one matches.
func matchExample(req Request) (*Translation, bool) {
	if req.Schema != nil && req.Schema.Dialect == Mongo {
		return nil, false // examples are SQL, which a MongoDB tenant does not run
	}
	nq := normQuestion(req.Question)
	r := newRenderer(req.Schema.Dialect)
	for _, ex := range req.Examples {
		tmpl := normQuestion(ex.Question)
		names := placeholder.FindAllStringSubmatch(tmpl, -1)
		if len(names) == 0 {
			if tmpl == nq {
				return &Translation{SQL: ex.SQL, Explanation: "Answered by the verified example \"" + ex.Question + "\".", Confidence: 1, Source: "example"}, true
			}
			continue
		}
		pat := "^" + placeholder.ReplaceAllStringFunc(regexp.QuoteMeta(tmpl), func(string) string { return "" }) + "$"
		// Rebuild the pattern with capture groups in place of placeholders.
		parts := placeholder.Split(tmpl, -1)
		var b strings.Builder
		b.WriteByte('^')
		for i, p := range parts {
			b.WriteString(regexp.QuoteMeta(p))
			if i < len(parts)-1 {
				b.WriteString("(.+?)")
			}
		}
		b.WriteByte('$')
		_ = pat
		re, err := regexp.Compile(b.String())
		if err != nil {
			continue
		}
		mt := re.FindStringSubmatch(nq)
		if mt == nil {
			continue
		}
		vals := map[string]string{}
		ok := true
		for i, n := range names {
			v := mt[i+1]
			if ex.Params[n[1]] == "number" {
				if _, err := strconv.ParseFloat(v, 64); err != nil {
					ok = false
					break
				}
				vals[n[1]] = v
				continue
			}
			// Text parameters keep the asker's spelling.
			vals[n[1]] = originalSpan(req.Question, v)
		}
		if !ok {
			continue
		}
		sql := placeholder.ReplaceAllStringFunc(ex.SQL, func(ph string) string {
			name := ph[1 : len(ph)-1]
			v, has := vals[name]
			if !has {
				return ph
			}
			if ex.Params[name] == "number" {
				return v
			}
			return r.str(v)
		})
		return &Translation{SQL: sql, Explanation: "Answered by the verified example \"" + ex.Question + "\".", Confidence: 0.95, Source: "example"}, true
	}
	return nil, false
}

// originalSpan finds norm (a lower-cased run of words) in q and returns it
// as written.
func originalSpan(q, norm string) string {
	lq := strings.ToLower(q)
	if i := strings.Index(lq, norm); i >= 0 && len(lq) == len(q) {
		return q[i : i+len(norm)]
	}
	return norm
}
