package nlp

import "strings"

// Lower-case compound names: Postgres folds SurfaceArea to surfacearea and
// LifeExpectancy to lifeexpectancy, so the name no longer splits into
// words. On MariaDB the same column answers to each of its words ("area",
// "expectancy") as one word of a longer name; here a question word that
// begins or ends such a name gets the same weak link, so that both
// engines read a question alike.

// compoundPart links word w (a lemma) to the columns whose one-word name
// starts or ends with it, the rest being a word of at least three letters.
func (p *parser) compoundPart(w string) []link {
	if len(w) < 4 || stopWords[w] || cueWords[w] || fillerWords[w] {
		return nil
	}
	var out []link
	for _, t := range p.s.Tables {
		for _, c := range t.Columns {
			cw := splitName(c.Name)
			if len(cw) != 1 || len(cw[0]) < len(w)+3 {
				continue
			}
			n := cw[0]
			if strings.HasPrefix(n, w) || strings.HasSuffix(n, w) || strings.HasSuffix(n, w+"s") {
				out = append(out, link{kind: linkColumn, table: t, col: c, score: 0.5})
			}
		}
	}
	return out
}

// nameTail links two or more words to the columns whose name ends with
// them ("record format" is major_record_format, "air date"
// original_air_date): the head of a longer name, as strong as a column
// named after its table answers to the rest of its name.
func (p *parser) nameTail(words []string) []link {
	for _, w := range words {
		if stopWords[w] && !(nounStops[w] && p.lx.words[w]) {
			return nil
		}
	}
	if words[len(words)-1] == "id" {
		return nil // "program id": a key is named by its table
	}
	var out []link
	for _, t := range p.s.Tables {
		for _, c := range t.Columns {
			cw := lemmas(splitName(c.Name))
			if len(cw) <= len(words) {
				continue
			}
			tail := cw[len(cw)-len(words):]
			if equalWords(tail, words) {
				out = append(out, link{kind: linkColumn, table: t, col: c, score: 0.9})
			}
		}
	}
	return out
}
