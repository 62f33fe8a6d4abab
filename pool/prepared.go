package pool

import "container/list"

// MaxPGPrepared is how many prepared statements the proxy keeps on one
// Postgres backend connection (as MySQL connections keep at most 256).
const MaxPGPrepared = 256

// PreparedSet is the set of statement names prepared on one backend
// connection, bounded: adding a name past its capacity evicts the least
// recently used one, which the caller then closes on the backend.
type PreparedSet struct {
	cap int
	ll  *list.List // front: most recently used
	m   map[string]*list.Element
}

// NewPreparedSet returns an empty set holding at most capacity names.
func NewPreparedSet(capacity int) *PreparedSet {
	return &PreparedSet{cap: max(capacity, 1), ll: list.New(), m: make(map[string]*list.Element)}
}

// Has reports whether name is prepared.
func (p *PreparedSet) Has(name string) bool {
	_, ok := p.m[name]
	return ok
}

// Touch marks name as just used.
func (p *PreparedSet) Touch(name string) {
	if e, ok := p.m[name]; ok {
		p.ll.MoveToFront(e)
	}
}

// Add records name as prepared and returns the names evicted to make room,
// least recently used first. Names for which inUse reports true are not
// evicted (the set may then hold more than its capacity for a while).
func (p *PreparedSet) Add(name string, inUse func(string) bool) (evicted []string) {
	if e, ok := p.m[name]; ok {
		p.ll.MoveToFront(e)
		return nil
	}
	for e := p.ll.Back(); e != nil && p.ll.Len() >= p.cap; {
		prev := e.Prev()
		n := e.Value.(string)
		if inUse == nil || !inUse(n) {
			p.ll.Remove(e)
			delete(p.m, n)
			evicted = append(evicted, n)
		}
		e = prev
	}
	p.m[name] = p.ll.PushFront(name)
	return evicted
}

// Restore records name as prepared again, as the least recently used,
// without evicting (a Close of it that the backend skipped).
func (p *PreparedSet) Restore(name string) {
	if _, ok := p.m[name]; !ok {
		p.m[name] = p.ll.PushBack(name)
	}
}

// Delete forgets name.
func (p *PreparedSet) Delete(name string) {
	if e, ok := p.m[name]; ok {
		p.ll.Remove(e)
		delete(p.m, name)
	}
}

// Clear forgets every name.
func (p *PreparedSet) Clear() {
	p.ll.Init()
	clear(p.m)
}

// Len is the number of names held.
func (p *PreparedSet) Len() int { return p.ll.Len() }
