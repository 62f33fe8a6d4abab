package nlp

import "strings"

// Tables named by what their rows are and a generic word ("cars_data",
// "flight_info", "product_details"): the rows are cars, flights,
// products, so the question's "car" or "cars" names the table. The words
// before the generic one stand for the table when no other table has
// them as its name, none strips to them too, and no column is named so
// (a column's own name is the likelier reading: model_list's "model").

// genericHeads maps the words a table answers to (lemmas, joined by a
// space) to the table.
func genericHeads(s *Schema) map[string]*Table {
	tablePhrase := map[string]bool{}
	for _, t := range s.Tables {
		tablePhrase[strings.Join(lemmas(splitName(t.Name)), " ")] = true
	}
	out := map[string]*Table{}
	seen := map[string]int{}
	for _, t := range s.Tables {
		words := splitName(t.Name)
		if len(words) > 1 && tablePrefixes[words[0]] {
			words = words[1:]
		}
		if len(words) < 2 || !genericTableWords[words[len(words)-1]] {
			continue
		}
		head := lemmas(words[:len(words)-1])
		k := strings.Join(head, " ")
		if len(strings.Join(head, "")) < 3 || tablePhrase[k] || columnWord(s, k) || stopWords[k] {
			continue
		}
		seen[k]++
		out[k] = t
	}
	for k, n := range seen {
		if n > 1 {
			delete(out, k) // two tables strip to it: neither is the reading
		}
	}
	return out
}
