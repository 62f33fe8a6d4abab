package admin

import (
	"container/list"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// cache is the two-level result cache: an in-memory LRU bounded in bytes,
// then Redis when configured. Every entry carries its insertion time and
// is checked against the TTL in force when it is read, so a changed TTL
// applies to entries already stored. A Redis failure degrades to
// memory-only (logged once per outage, counted in a metric) and never
// reaches the user.
type cache struct {
	log   *slog.Logger
	ttl   atomic.Int64 // nanoseconds
	redis *redis.Client

	mu       sync.Mutex
	maxBytes int64
	bytes    int64
	ll       *list.List
	items    map[string]*list.Element

	redisDownUntil atomic.Int64 // unix nanos: skip Redis until then after a failure
	redisDown      atomic.Bool

	hits, misses, redisErrors *prometheus.CounterVec
	invalidated               prometheus.Counter
}

type cacheEntry struct {
	key      string
	val      []byte
	inserted time.Time
}

// cacheOpTimeout bounds one Redis call; cacheRetryAfter is how long the
// cache stays memory-only after a Redis failure.
const (
	cacheOpTimeout  = 150 * time.Millisecond
	cacheRetryAfter = 5 * time.Second
)

func newCache(maxBytes int64, ttl time.Duration, rc *redis.Client, reg prometheus.Registerer, log *slog.Logger) *cache {
	c := &cache{log: log, redis: rc, maxBytes: maxBytes, ll: list.New(), items: map[string]*list.Element{}}
	c.ttl.Store(int64(ttl))
	c.hits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantproxy_cache_hits_total", Help: "Result cache hits by level (memory, redis)."}, []string{"level"})
	c.misses = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantproxy_cache_misses_total", Help: "Result cache misses."}, []string{"kind"})
	c.invalidated = prometheus.NewCounter(prometheus.CounterOpts{Name: "tenantproxy_cache_invalidated_total", Help: "Cached results dropped because a write moved a table they read."})
	c.redisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantproxy_cache_redis_errors_total", Help: "Redis operations that failed; the cache fell back to memory."}, []string{"op"})
	if reg != nil {
		for _, m := range []prometheus.Collector{c.hits, c.misses, c.redisErrors, c.invalidated} {
			if err := reg.Register(m); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					log.Warn("cache_metric_not_registered", "error", err)
				}
			}
		}
	}
	return c
}

// SetTTL changes the TTL; entries already stored obey the new one.
func (c *cache) SetTTL(d time.Duration) { c.ttl.Store(int64(d)) }

// TTL returns the TTL in force.
func (c *cache) TTL() time.Duration { return time.Duration(c.ttl.Load()) }

func (c *cache) fresh(inserted time.Time) bool {
	ttl := c.TTL()
	return ttl > 0 && time.Since(inserted) < ttl
}

// Get returns the value stored under key, if fresh.
func (c *cache) Get(ctx context.Context, key string) ([]byte, bool) {
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*cacheEntry)
		if c.fresh(e.inserted) {
			c.ll.MoveToFront(el)
			v := e.val
			c.mu.Unlock()
			c.hits.WithLabelValues("memory").Inc()
			return v, true
		}
		c.removeLocked(el)
	}
	c.mu.Unlock()
	if c.redisUsable() {
		rctx, cancel := context.WithTimeout(ctx, cacheOpTimeout)
		raw, err := c.redis.Get(rctx, key).Bytes()
		cancel()
		switch {
		case err == nil && len(raw) >= 8:
			c.redisOK()
			inserted := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8])))
			if c.fresh(inserted) {
				v := raw[8:]
				c.putMem(key, v, inserted)
				c.hits.WithLabelValues("redis").Inc()
				return v, true
			}
		case errors.Is(err, redis.Nil):
		case err != nil:
			c.redisFailed("get", err)
		}
	}
	c.misses.WithLabelValues("result").Inc()
	return nil, false
}

// Set stores val under key in both levels.
func (c *cache) Set(ctx context.Context, key string, val []byte) {
	now := time.Now()
	c.putMem(key, val, now)
	if c.redisUsable() {
		buf := make([]byte, 8+len(val))
		binary.BigEndian.PutUint64(buf, uint64(now.UnixNano()))
		copy(buf[8:], val)
		rctx, cancel := context.WithTimeout(ctx, cacheOpTimeout)
		err := c.redis.Set(rctx, key, buf, c.TTL()).Err()
		cancel()
		if err != nil {
			c.redisFailed("set", err)
		} else {
			c.redisOK()
		}
	}
}

// redisOK ends an outage after a successful operation.
func (c *cache) redisOK() {
	if c.redisDown.Swap(false) {
		c.log.Info("cache_redis_recovered")
	}
}

// Delete removes key from both levels.
func (c *cache) Delete(ctx context.Context, key string) {
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.removeLocked(el)
	}
	c.mu.Unlock()
	if c.redisUsable() {
		rctx, cancel := context.WithTimeout(ctx, cacheOpTimeout)
		if err := c.redis.Del(rctx, key).Err(); err != nil {
			c.redisFailed("del", err)
		}
		cancel()
	}
}

func (c *cache) putMem(key string, val []byte, inserted time.Time) {
	size := int64(len(key) + len(val) + 64)
	if size > c.maxBytes/4 {
		return // one entry may not take over the cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.removeLocked(el)
	}
	el := c.ll.PushFront(&cacheEntry{key: key, val: val, inserted: inserted})
	c.items[key] = el
	c.bytes += size
	for c.bytes > c.maxBytes && c.ll.Len() > 0 {
		c.removeLocked(c.ll.Back())
	}
}

func (c *cache) removeLocked(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.ll.Remove(el)
	delete(c.items, e.key)
	c.bytes -= int64(len(e.key) + len(e.val) + 64)
}

func (c *cache) redisUsable() bool {
	if c.redis == nil {
		return false
	}
	return time.Now().UnixNano() >= c.redisDownUntil.Load()
}

func (c *cache) redisFailed(op string, err error) {
	c.redisErrors.WithLabelValues(op).Inc()
	c.redisDownUntil.Store(time.Now().Add(cacheRetryAfter).UnixNano())
	if !c.redisDown.Swap(true) {
		c.log.Warn("cache_redis_unavailable", "op", op, "error", err, "fallback", "memory")
	}
}

// redisStatus pings Redis and reports ok, unavailable or disabled.
func (c *cache) redisStatus(ctx context.Context) string {
	if c.redis == nil {
		return "disabled"
	}
	rctx, cancel := context.WithTimeout(ctx, cacheOpTimeout)
	defer cancel()
	if err := c.redis.Ping(rctx).Err(); err != nil {
		c.redisFailed("ping", err)
		return "unavailable"
	}
	c.redisDownUntil.Store(0)
	c.redisOK()
	return "ok"
}

type cacheStats struct {
	Entries  int    `json:"memory_entries"`
	Bytes    int64  `json:"memory_bytes"`
	MaxBytes int64  `json:"memory_max_bytes"`
	TTLSecs  int64  `json:"ttl_seconds"`
	Redis    string `json:"redis"`
}

func (c *cache) stats(ctx context.Context) cacheStats {
	c.mu.Lock()
	st := cacheStats{Entries: c.ll.Len(), Bytes: c.bytes, MaxBytes: c.maxBytes, TTLSecs: int64(c.TTL() / time.Second)}
	c.mu.Unlock()
	st.Redis = c.redisStatus(ctx)
	return st
}
