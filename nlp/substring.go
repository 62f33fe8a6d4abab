package nlp

import (
	"fmt"
	"strings"
)

// substring reads a quoted string that is no stored value, introduced by a
// word that says it is a part ("whose name contains the substring 'Al'",
// "a city containing 'West'", "with the word 'Hey' in its title", "the
// letter 'w' in their description"), as column LIKE '%string%' on the text
// column named before the cue or after "in its". A string holding a LIKE
// wildcard or a backslash is left alone (declined), never escaped per
// engine.
func (p *parser) substring(f *frame, m *mention) bool {
	raw := p.toks[m.start].raw
	if raw == "" || strings.ContainsAny(raw, `%_\`) {
		return false
	}
	// The cue: within three words before the value.
	cue := -1
	for k := m.start - 1; k >= 0 && k >= m.start-4; k-- {
		switch p.toks[k].low {
		case "contains", "contain", "containing", "substring", "word", "letter", "includes", "including", "like":
			cue = k
		}
	}
	if cue < 0 {
		return false
	}
	// The column: "in its/their <column>" after the value, else the text
	// column named nearest before the cue; "the state whose name" is the
	// state.
	var col *mention
	if k := m.end; p.at(k, "in") && (p.at(k+1, "its") || p.at(k+1, "their") || p.at(k+1, "the")) {
		if nm := p.mentionAt(k + 2); nm != nil && nm.kind == mColumn {
			col = nm
		}
	}
	if col == nil {
		for k := cue - 1; k >= 0 && k >= cue-6; k-- {
			if pm := p.byTok[k]; pm != nil && pm.kind == mColumn {
				col = pm
				if p.at(pm.start, "name") && p.at(pm.start-1, "whose") {
					if pp := p.mentionAt(pm.start - 2); pp != nil && pp.kind == mColumn {
						col = pp // "the state whose name contains"
					}
				}
				break
			}
		}
	}
	if col == nil {
		return false
	}
	p.resolveCol(col, f.tables, f.main)
	if col.col == nil || col.col.Kind != KindText {
		return false
	}
	col.used = true
	e := binExpr{colExpr{col.table.Name, col.col.Name}, "LIKE", litExpr{"%" + raw + "%"}}
	f.filters = append(f.filters, filter{e: e, desc: fmt.Sprintf("%s.%s contains %q", col.table.Name, col.col.Name, raw), tbl: col.table})
	if !containsTable(f.tables, col.table) {
		f.tables = append(f.tables, col.table)
	}
	// The cue and the words between it and the value are the condition.
	p.mark(cue, m.start-cue)
	if k := m.end; p.at(k, "in") && (p.at(k+1, "its") || p.at(k+1, "their") || p.at(k+1, "the")) {
		p.mark(k, 2)
	} else if p.at(k, "in", "it") {
		p.mark(k, 2) // "with the letter 'w' in it"
	}
	if p.at(cue-1, "the") || p.at(cue-1, "a") {
		p.mark(cue-1, 1)
	}
	m.used = true
	p.mark(m.start, m.end-m.start)
	return true
}

// partOfValue reports whether a quoted string that is also a stored value
// is introduced as a part of one ("the letter 'w'", "the word 'Hey'"): then
// it is a substring, not the value.
func (p *parser) partOfValue(m *mention) bool {
	if !p.toks[m.start].quoted {
		return false
	}
	for k := m.start - 1; k >= 0 && k >= m.start-2; k-- {
		switch p.toks[k].low {
		case "letter", "word", "character", "letters", "characters":
			return true
		}
	}
	return false
}
