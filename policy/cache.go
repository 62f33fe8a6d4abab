package policy

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// cacheKey identifies one analysis: the same text under the same policy. A
// template key has template set and sql holding the literal-free template.
type cacheKey struct {
	dialect  Dialect
	template bool
	tenant   string
	role     string
	user     string // only when the role's row filters use {{user}}
	version  uint64
	tables   uint64 // the row tenant's catalog snapshot (Tables.Gen)
	sql      string
}

const cacheShards = 32

// cache is a sharded clock (second-chance) cache: a hit takes a shard's read
// lock and sets a reference bit; inserts evict the first entry whose bit is
// clear.
type cache struct {
	seed   maphash.Seed
	shards [cacheShards]shard
	per    int
}

type shard struct {
	mu   sync.RWMutex
	m    map[cacheKey]*entry
	ring []*entry
	hand int
	_    [24]byte // keep shards on separate cache lines
}

type entry struct {
	key cacheKey
	res *result
	ref atomic.Bool
}

func newCache(entries int) *cache {
	c := &cache{seed: maphash.MakeSeed()}
	if entries <= 0 {
		return c
	}
	c.per = (entries + cacheShards - 1) / cacheShards
	// The maps grow with use: presized, they would hold megabytes a
	// proxy with a few distinct statements never fills.
	for i := range c.shards {
		c.shards[i].m = make(map[cacheKey]*entry)
	}
	return c
}

func (c *cache) shard(k *cacheKey) *shard {
	h := maphash.String(c.seed, k.sql)
	return &c.shards[(h^k.version^uint64(len(k.tenant)))%cacheShards]
}

func (c *cache) get(k cacheKey) (*result, bool) {
	if c.per == 0 {
		return nil, false
	}
	s := c.shard(&k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok {
		return nil, false
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	return e.res, true
}

func (c *cache) put(k cacheKey, r *result) {
	if c.per == 0 {
		return
	}
	s := c.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; ok {
		return // same key, same policy: the stored result is equivalent
	}
	e := &entry{key: k, res: r}
	if len(s.ring) < c.per {
		s.ring = append(s.ring, e)
		s.m[k] = e
		return
	}
	for {
		old := s.ring[s.hand]
		if old.ref.Load() {
			old.ref.Store(false)
			s.hand = (s.hand + 1) % len(s.ring)
			continue
		}
		delete(s.m, old.key)
		s.ring[s.hand] = e
		s.m[k] = e
		s.hand = (s.hand + 1) % len(s.ring)
		return
	}
}

// len returns the number of cached entries.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
