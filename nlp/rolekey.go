package nlp

import "strings"

// Role keys: a table with two foreign keys to one parent table, such as
// friend(student_id, friend_id) or likes(student_id, liked_id), relates a
// parent row to another parent row. The key named after the table itself
// (friend_id, liked_id) holds the other party, the role the row gives; the
// remaining key holds the row's owner, whom "students who have friends" or
// "the number of likes Kyle has" are about. When exactly one key is not
// such a role key, joins go through it; otherwise the choice stays open and
// the question is declined.

// usableKeys are child's foreign keys to parent that a join may take.
func usableKeys(child, parent *Table) []*ForeignKey {
	var all []*ForeignKey
	for i := range child.ForeignKeys {
		if strings.EqualFold(child.ForeignKeys[i].RefTable, parent.Name) {
			all = append(all, &child.ForeignKeys[i])
		}
	}
	if len(all) < 2 {
		return all
	}
	// Declared keys win over inferred ones.
	declared := all[:0:0]
	for _, fk := range all {
		if !fk.Inferred {
			declared = append(declared, fk)
		}
	}
	if len(declared) > 0 && len(declared) < len(all) {
		all = declared
		if len(all) < 2 {
			return all
		}
	}
	var owners []*ForeignKey
	for _, fk := range all {
		if len(fk.Columns) != 1 {
			return all
		}
		if !roleKey(child, fk.Columns[0]) {
			owners = append(owners, fk)
		}
	}
	if len(owners) == 1 {
		return owners
	}
	return all
}

// roleKey reports whether column col of t is named after t: one word of the
// column, other than an id, is a word of the table's name ("liked_id" in
// likes, "friend_id" in friend), by stem or past tense.
func roleKey(t *Table, col string) bool {
	var tw []string
	for _, w := range splitName(t.Name) {
		tw = append(tw, lemma(w))
	}
	for _, w := range splitName(col) {
		if w == "id" || w == "ids" {
			continue
		}
		for _, form := range []string{w, strings.TrimSuffix(w, "d"), strings.TrimSuffix(w, "ed")} {
			for _, x := range tw {
				// "referred" in referrals, "liked" in likes: one is the
				// other's stem.
				if len(form) >= 4 && len(x) >= 4 && (strings.HasPrefix(x, form) || strings.HasPrefix(form, x)) {
					return true
				}
			}
		}
	}
	return false
}

// usableKey reports whether fk is one of the keys a join may take, the
// question left aside (see keysFor).
func usableKey(child *Table, fk *ForeignKey) bool {
	for _, k := range usableKeys(child, &Table{Name: fk.RefTable}) {
		if k == fk {
			return true
		}
	}
	return false
}

// usableKey reports whether fk is one of the keys a join may take for this
// question.
func (p *parser) usableKey(child *Table, fk *ForeignKey) bool {
	for _, k := range p.keysFor(child, &Table{Name: fk.RefTable}) {
		if k == fk {
			return true
		}
	}
	return false
}

// keysFor narrows two keys of child to parent by the question: the one
// whose own word the question uses ("students who currently live in" takes
// current_address_id over permanent_address_id; "permanently" the other).
// A word of both, or of neither, leaves the choice open.
func (p *parser) keysFor(child, parent *Table) []*ForeignKey {
	ks := usableKeys(child, parent)
	if len(ks) < 2 {
		return ks
	}
	pw := map[string]bool{"id": true}
	for _, w := range lemmas(splitName(parent.Name)) {
		pw[w] = true
	}
	var hit []*ForeignKey
	var words []int
	for _, fk := range ks {
		if len(fk.Columns) != 1 {
			return ks
		}
		named := false
		for _, w := range lemmas(splitName(fk.Columns[0])) {
			if pw[w] || len(w) < 4 {
				continue
			}
			for i, t := range p.toks {
				if !t.quoted && strings.HasPrefix(t.low, w) {
					named = true
					words = append(words, i)
				}
			}
		}
		if named {
			hit = append(hit, fk)
		}
	}
	if len(hit) == 1 {
		for _, i := range words {
			p.mark(i, 1) // the word chose the key
		}
		return hit
	}
	return ks
}
