package proxy

import (
	"context"
	"math"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster-wide limits.
//
//   - qps: each proxy enforces a local token bucket at its share of the
//     tenant's rate. Every heartbeat it publishes the statements it was
//     asked to run (its demand) and takes a share of the rate in proportion
//     to its demand among the live members, with a floor so that a proxy
//     that had no traffic can start at once. No Redis call per statement.
//   - max_client_connections: a counter per member in Redis, admitted by a
//     script that adds up the live members' counts (a member whose lease
//     expired no longer counts) — one Redis round trip per connection,
//     none per statement.
//   - pool.cluster_max: each proxy caps its pool's connections in use at
//     its share of the tenant's cluster-wide maximum, in proportion to its
//     use.
//
// When Redis is unreachable every proxy uses the configured limits on its
// own, as a single proxy does.

// fleetAdmitTimeout bounds the Redis call of one connection's admission.
const fleetAdmitTimeout = 250 * time.Millisecond

type fleetLimits struct {
	shares atomic.Pointer[map[string]float64] // tenant -> this proxy's QPS share
	last   time.Time                          // of the last sync (heartbeat goroutine only)
}

func (l *fleetLimits) init() { l.last = time.Now() }

// share returns this proxy's share of rate for tenant (rate itself until
// the first heartbeat set one).
func (l *fleetLimits) share(tenant string, rate float64) float64 {
	if m := l.shares.Load(); m != nil {
		if s, ok := (*m)[tenant]; ok {
			return s
		}
	}
	return rate
}

// admitScript admits one client connection of a tenant when the live
// members' counts leave room. KEYS[1]: the tenant's count hash; ARGV: this
// member's id, the limit, the member-key prefix. It returns the member's
// new count, or -1 when the tenant is full.
var admitScript = redis.NewScript(`
local total = 0
local f = redis.call('HGETALL', KEYS[1])
for i = 1, #f, 2 do
  if f[i] ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. f[i]) == 0 then
    redis.call('HDEL', KEYS[1], f[i])
  else
    total = total + tonumber(f[i+1])
  end
end
if total + 1 > tonumber(ARGV[2]) then
  return -1
end
return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)`)

// admitConn takes a connection slot of tenant (limit max) in the fleet. ok
// reports whether one was free; err a Redis failure (the caller falls back
// to the local count).
func (f *Fleet) admitConn(tenant string, max int) (ok bool, err error) {
	if !f.ready.Load() {
		return false, errFleetDown
	}
	ctx, cancel := context.WithTimeout(context.Background(), fleetAdmitTimeout)
	defer cancel()
	n, err := admitScript.Run(ctx, f.rc, []string{f.key("conns", tenant)}, f.id, max, f.key("member")+":").Int64()
	if err != nil {
		f.errors.WithLabelValues("admit").Inc()
		return false, err
	}
	return n >= 0, nil
}

// releaseConn gives a connection slot back (in the background; the next
// heartbeat writes the exact count anyway).
func (f *Fleet) releaseConn(tenant string) {
	if !f.ready.Load() {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := f.rc.HIncrBy(ctx, f.key("conns", tenant), f.id, -1).Err(); err != nil {
			f.errors.WithLabelValues("release").Inc()
		}
	}()
}

var errFleetDown = &fleetDownError{}

type fleetDownError struct{}

func (*fleetDownError) Error() string { return "fleet: Redis is unavailable" }

// sync publishes this proxy's connection counts, demand and pool use, and
// sets its shares from the fleet's.
func (l *fleetLimits) sync(ctx context.Context, f *Fleet) error {
	now := time.Now()
	elapsed := now.Sub(l.last).Seconds()
	l.last = now
	if elapsed <= 0 {
		elapsed = f.cfg.Heartbeat.Seconds()
	}
	ttl := f.cfg.LeaseTTL * 3
	tenants := f.srv.Tenants()
	live := f.liveMembers()
	type pending struct {
		t       *TenantState
		qps     *redis.MapStringStringCmd
		pool    *redis.MapStringStringCmd
		myRate  float64
		myInUse float64
	}
	var work []pending
	pipe := f.rc.Pipeline()
	for _, t := range tenants {
		p := pending{t: t}
		if t.Limits.MaxClientConnections > 0 {
			k := f.key("conns", t.ID)
			pipe.HSet(ctx, k, f.id, t.lim.clients.Load())
			pipe.PExpire(ctx, k, ttl)
		}
		if t.Limits.QPS > 0 {
			p.myRate = float64(t.lim.demand.Swap(0)) / elapsed
			k := f.key("qps", t.ID)
			pipe.HSet(ctx, k, f.id, strconv.FormatFloat(p.myRate, 'f', 3, 64))
			pipe.PExpire(ctx, k, ttl)
			p.qps = pipe.HGetAll(ctx, k)
		}
		if pl := t.mainPool(); pl != nil && pl.ClusterMax() > 0 {
			st := pl.Stats()
			p.myInUse = float64(st.InUse + st.Waiting)
			k := f.key("backends", t.ID)
			pipe.HSet(ctx, k, f.id, strconv.FormatFloat(p.myInUse, 'f', 0, 64))
			pipe.PExpire(ctx, k, ttl)
			p.pool = pipe.HGetAll(ctx, k)
		}
		work = append(work, p)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return err
	}
	shares := make(map[string]float64, len(work))
	for _, p := range work {
		if p.qps != nil {
			sh := proportionalShare(p.t.Limits.QPS, f.id, p.myRate, p.qps.Val(), live)
			shares[p.t.ID] = sh
			p.t.lim.share.Store(math.Float64bits(sh))
		}
		if p.pool != nil {
			pl := p.t.mainPool()
			pl.SetLimit(connectionShare(pl.ClusterMax(), f.id, p.myInUse, p.pool.Val(), live))
		}
	}
	l.shares.Store(&shares)
	return nil
}

// proportionalShare splits total among the live members in proportion to
// their demand (self's is mine), each counted at least total/(4 n) so that
// a member without traffic can start.
func proportionalShare(total float64, self string, mine float64, all map[string]string, live map[string]bool) float64 {
	// A member counts while it keeps writing its field (the hash expires
	// unless renewed) and, once the member list is known, while its lease
	// lasts.
	counts := func(id string) bool { return id != self && (len(live) <= 1 || live[id]) }
	n := 1
	for id := range all {
		if counts(id) {
			n++
		}
	}
	if n == 1 {
		return total
	}
	floor := total / float64(4*n)
	sum := 0.0
	for id, v := range all {
		if !counts(id) {
			continue
		}
		d, _ := strconv.ParseFloat(v, 64)
		sum += math.Max(d, floor)
	}
	me := math.Max(mine, floor)
	return total * me / (sum + me)
}

// connectionShare splits a whole number of backend connections among the
// live members: one each, the rest in proportion to their use (largest
// remainders first, ties by id), so that the members' shares, computed
// each on its own from the same counts, add up to at most total (or to one
// each when there are more members than connections).
func connectionShare(total int, self string, mine float64, all map[string]string, live map[string]bool) int {
	type member struct {
		id   string
		use  float64
		n    int
		frac float64
	}
	ms := []member{{id: self, use: mine}}
	for id, v := range all {
		if id != self && (len(live) <= 1 || live[id]) {
			d, _ := strconv.ParseFloat(v, 64)
			ms = append(ms, member{id: id, use: d})
		}
	}
	if len(ms) == 1 {
		return total
	}
	rest := total - len(ms)
	if rest <= 0 {
		return 1
	}
	sum := 0.0
	for _, m := range ms {
		sum += m.use
	}
	given := 0
	for i := range ms {
		ms[i].n = 1
		if sum > 0 {
			x := float64(rest) * ms[i].use / sum
			ms[i].n += int(x)
			ms[i].frac = x - math.Floor(x)
			given += int(x)
		} else {
			ms[i].frac = 1
		}
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].frac != ms[j].frac {
			return ms[i].frac > ms[j].frac
		}
		return ms[i].id < ms[j].id
	})
	for i := 0; given < rest; i = (i + 1) % len(ms) {
		ms[i].n++
		given++
	}
	for _, m := range ms {
		if m.id == self {
			return m.n
		}
	}
	return 1
}

// clear drops the fleet's shares: the proxy is on its own.
func (l *fleetLimits) clear(tenants []*TenantState) {
	l.shares.Store(nil)
	for _, t := range tenants {
		t.lim.share.Store(0)
	}
}
