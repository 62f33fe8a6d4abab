package nlp

// Several negated values in one question: "the countries that do not speak
// English and whose government forms are not Republic". negatedValues
// reads one negation; it is applied again while it consumes another one.

// allNegatedValues applies negatedValues until no further "not" is read.
func (p *parser) allNegatedValues(f *frame) {
	for n := 0; n < 4; n++ {
		before := p.consumedCount()
		p.negatedValues(f)
		if p.consumedCount() == before {
			return
		}
	}
}

func (p *parser) consumedCount() int {
	n := 0
	for _, c := range p.consumed {
		if c {
			n++
		}
	}
	return n
}
