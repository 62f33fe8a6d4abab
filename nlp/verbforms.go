package nlp

import "strings"

// A column named with a past participle ("date_arrived", "date_departed",
// "created") also answers to the other forms of its verb the questions
// use: "the arriving date", "the arrival date", "the departure date",
// "the creation date". The forms are built from the participle's stem,
// and a two-word name is taken in either order ("arriving date" for
// date_arrived); the link is weaker than the name itself (0.9).

// participleForms returns the other forms of a past participle w
// ("arrived": arrive, arriving, arrival), or nil when w is none.
func participleForms(w string) []string {
	if len(w) < 6 || !strings.HasSuffix(w, "ed") || strings.HasSuffix(w, "eed") {
		return nil
	}
	stem := strings.TrimSuffix(w, "ed") // arriv, depart, creat
	var out []string
	for _, suf := range []string{"e", "", "ing", "al", "ure", "ion", "ation"} {
		f := stem + suf
		if f == w || len(f) < 4 || stopWords[f] || cueWords[f] {
			continue
		}
		out = append(out, lemma(f))
	}
	return out
}

// verbFormPhrases returns the phrases a column named by words cw also
// answers to through participleForms.
func verbFormPhrases(cw []string) [][]string {
	var out [][]string
	switch len(cw) {
	case 1:
		for _, f := range participleForms(cw[0]) {
			out = append(out, []string{f})
		}
		if len(participleForms(cw[0])) > 0 {
			// "created": the "create date", "creation time", "date created".
			for _, f := range append(participleForms(cw[0]), cw[0]) {
				for _, d := range []string{"date", "time"} {
					out = append(out, []string{f, d}, []string{d, f})
				}
			}
		}
	case 2:
		for i, w := range cw {
			other := cw[1-i]
			for _, f := range participleForms(w) {
				out = append(out, []string{f, other}, []string{other, f})
			}
		}
	}
	return out
}
