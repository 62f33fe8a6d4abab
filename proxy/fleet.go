package proxy

// The fleet: several proxies behind one TCP load balancer share what must be
// shared through Redis (config key fleet). Nothing here is on the statement
// path: limits are enforced from local state that a background heartbeat
// keeps in step with the fleet (fleetlimits.go), cancel requests and KILL
// that land on the wrong proxy are forwarded to the owner over the peer
// channel (peer.go), and writes invalidate cached results everywhere
// (fleetcache.go). When Redis is unreachable every proxy falls back to its
// local limits and memory-only state, says so in health, metrics and logs,
// and catches up when Redis returns.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// FleetConfig is the fleet section of the config (key fleet).
type FleetConfig struct {
	// Enabled joins this proxy to the fleet on redis.addr.
	Enabled bool `mapstructure:"enabled"`
	// PeerListen is where this proxy serves the peer channel (forwarded
	// cancel requests and KILL); PeerAdvertise is the address the other
	// proxies dial (default PeerListen).
	PeerListen    string `mapstructure:"peer_listen"`
	PeerAdvertise string `mapstructure:"peer_advertise"`
	// Secret authenticates the peer channel (HMAC-SHA256, at least 16 bytes,
	// the same on every proxy of the fleet).
	Secret string `mapstructure:"secret"`
	// Heartbeat is how often the proxy renews its membership and its shares
	// of the tenants' limits (default 1s); LeaseTTL is how long a proxy that
	// stopped renewing still counts (default 5s): the connection slots of a
	// proxy that died come back within it.
	Heartbeat time.Duration `mapstructure:"heartbeat"`
	LeaseTTL  time.Duration `mapstructure:"lease_ttl"`
	// Prefix namespaces the fleet's Redis keys (default "tp:fleet:").
	Prefix string `mapstructure:"prefix"`
}

// CheckAndSetDefaults validates c and fills in defaults.
func (c *FleetConfig) CheckAndSetDefaults() error {
	if c.Heartbeat == 0 {
		c.Heartbeat = time.Second
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 5 * time.Second
	}
	if c.Prefix == "" {
		c.Prefix = "tp:fleet:"
	}
	if !c.Enabled {
		return nil
	}
	if c.Heartbeat < 50*time.Millisecond {
		return fmt.Errorf("heartbeat: %s is too short (at least 50ms)", c.Heartbeat)
	}
	if c.LeaseTTL < 2*c.Heartbeat {
		return fmt.Errorf("lease_ttl: %s must be at least twice the heartbeat (%s)", c.LeaseTTL, c.Heartbeat)
	}
	if c.PeerListen == "" {
		return errors.New("peer_listen: required when the fleet is enabled")
	}
	if len(c.Secret) < 16 {
		return errors.New("secret: at least 16 bytes are required when the fleet is enabled")
	}
	if c.PeerAdvertise == "" {
		c.PeerAdvertise = c.PeerListen
	}
	return nil
}

// Member is one live proxy of the fleet, as it last reported itself.
type Member struct {
	ID         string    `json:"id"`
	Node       int       `json:"node"`
	Version    string    `json:"version"`
	ConfigHash string    `json:"config_hash"`
	PeerAddr   string    `json:"peer_addr"`
	Started    time.Time `json:"started"`
	Heartbeat  time.Time `json:"heartbeat"`
	Clients    int       `json:"client_connections"`
	Backends   int       `json:"backend_connections"`
	// ConfigDiffers is set in listings when the member's config hash is not
	// the one most members run.
	ConfigDiffers bool `json:"config_differs,omitempty"`
}

// maxNodes is how many proxies a fleet can hold: the node number is part
// of every cancel key and MySQL connection id the proxy hands out.
const maxNodes = 1024

// Fleet is this proxy's membership in the fleet.
type Fleet struct {
	cfg   FleetConfig
	rc    *redis.Client
	srv   *Server
	log   *slog.Logger
	id    string
	mu    sync.Mutex // guards self
	self  Member
	node  atomic.Int64 // -1 until claimed
	up    atomic.Bool  // Redis answered the last heartbeat
	ready atomic.Bool  // a heartbeat has completed since start or recovery

	members atomic.Pointer[[]Member]
	limits  fleetLimits
	peer    *peerServer

	upGauge   prometheus.Gauge
	errors    *prometheus.CounterVec
	forwarded *prometheus.CounterVec

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewFleet joins s to the fleet described by cfg on Redis rc. version and
// configHash are reported to the other members. Start runs it.
func NewFleet(cfg FleetConfig, rc *redis.Client, s *Server, version, configHash string, reg prometheus.Registerer, log *slog.Logger) (*Fleet, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, fmt.Errorf("fleet.%w", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	f := &Fleet{
		cfg: cfg, rc: rc, srv: s, id: hex.EncodeToString(b[:]),
		stop: make(chan struct{}), done: make(chan struct{}),
		upGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tenantproxy_fleet_redis_up",
			Help: "1 while the fleet's Redis answers; 0 while this proxy runs on local limits and memory only."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantproxy_fleet_redis_errors_total",
			Help: "Fleet operations on Redis that failed."}, []string{"op"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantproxy_fleet_forwarded_total",
			Help: "Cancel requests and KILLs forwarded to the proxy owning the connection, by outcome."}, []string{"kind", "outcome"}),
	}
	f.log = log.With("fleet_member", f.id)
	f.node.Store(-1)
	f.self = Member{ID: f.id, Version: version, ConfigHash: configHash, PeerAddr: cfg.PeerAdvertise, Started: time.Now().UTC()}
	f.limits.init()
	if reg != nil {
		reg.MustRegister(f.upGauge, f.errors, f.forwarded)
	}
	return f, nil
}

// SetConfigHash reports a reloaded config to the other members.
func (f *Fleet) SetConfigHash(h string) {
	f.mu.Lock()
	f.self.ConfigHash = h
	f.mu.Unlock()
}

// ID returns this proxy's member id.
func (f *Fleet) ID() string { return f.id }

// Up reports whether the fleet's Redis answered the last heartbeat: while
// it does not, limits are local and cached results memory-only.
func (f *Fleet) Up() bool { return f.up.Load() }

func (f *Fleet) key(parts ...string) string {
	k := f.cfg.Prefix
	for i, p := range parts {
		if i > 0 {
			k += ":"
		}
		k += p
	}
	return k
}

// Start claims a node number, serves the peer channel and starts the
// heartbeat. It returns once the first heartbeat ran (successful or not),
// so a proxy that starts with Redis reachable hands out fleet-unique ids
// from its first client on.
func (f *Fleet) Start(ctx context.Context) error {
	p, err := newPeerServer(f)
	if err != nil {
		return err
	}
	f.peer = p
	f.srv.fleet.Store(f)
	f.beat(ctx)
	go f.loop()
	go f.publisher()
	return nil
}

// Close leaves the fleet: the heartbeat stops, this proxy's membership and
// connection counts are removed, and the peer channel closes.
func (f *Fleet) Close() {
	f.once.Do(func() {
		close(f.stop)
		<-f.done
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		pipe := f.rc.TxPipeline()
		pipe.Del(ctx, f.key("member", f.id))
		if n := f.node.Load(); n >= 0 {
			pipe.Del(ctx, f.key("node", strconv.Itoa(int(n))))
		}
		for _, t := range f.srv.Tenants() {
			pipe.HDel(ctx, f.key("conns", t.ID), f.id)
			pipe.HDel(ctx, f.key("qps", t.ID), f.id)
			pipe.HDel(ctx, f.key("backends", t.ID), f.id)
		}
		_, _ = pipe.Exec(ctx)
		if f.peer != nil {
			f.peer.close()
		}
	})
}

func (f *Fleet) loop() {
	defer close(f.done)
	t := time.NewTicker(f.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), f.cfg.Heartbeat)
			f.beat(ctx)
			cancel()
		}
	}
}

// beat renews membership and the node claim, publishes this proxy's
// connection counts and demand, and reads the fleet's to set the local
// shares of every tenant's limits.
func (f *Fleet) beat(ctx context.Context) {
	err := f.claimNode(ctx)
	if err == nil {
		err = f.renewMember(ctx)
	}
	if err == nil {
		err = f.limits.sync(ctx, f)
	}
	if err == nil {
		err = f.readMembers(ctx)
	}
	if err != nil {
		f.errors.WithLabelValues("heartbeat").Inc()
		if f.up.Swap(false) {
			f.log.Warn("fleet_redis_unavailable", "error", err, "fallback", "local limits, memory-only cache")
		}
		f.ready.Store(false)
		f.upGauge.Set(0)
		f.limits.clear(f.srv.Tenants())
		for _, t := range f.srv.Tenants() {
			if pl := t.mainPool(); pl != nil && pl.ClusterMax() > 0 {
				pl.SetLimit(0) // the configured pool size, as a single proxy
			}
		}
		return
	}
	if !f.up.Swap(true) {
		f.log.Info("fleet_redis_available", "node", f.node.Load())
	}
	f.ready.Store(true)
	f.upGauge.Set(1)
}

// claimNode claims (or keeps) a node number: a key node:<n> holding this
// member's id, renewed with every heartbeat.
func (f *Fleet) claimNode(ctx context.Context) error {
	ttl := f.cfg.LeaseTTL
	if n := f.node.Load(); n >= 0 {
		k := f.key("node", strconv.Itoa(int(n)))
		ok, err := renewScript.Run(ctx, f.rc, []string{k}, f.id, ttl.Milliseconds()).Int()
		if err != nil {
			return err
		}
		if ok == 1 {
			return nil
		}
		// Lost (Redis restarted, or an outage longer than the lease): the
		// ids handed out keep their node; claim it again, or another one.
		ok2, err := f.rc.SetNX(ctx, k, f.id, ttl).Result()
		if err != nil {
			return err
		}
		if ok2 {
			return nil
		}
		f.log.Warn("fleet_node_lost", "node", n)
	}
	var b [2]byte
	_, _ = rand.Read(b[:])
	start := int(b[0])<<8 | int(b[1])
	for i := 0; i < maxNodes; i++ {
		n := (start + i) % maxNodes
		ok, err := f.rc.SetNX(ctx, f.key("node", strconv.Itoa(n)), f.id, ttl).Result()
		if err != nil {
			return err
		}
		if ok {
			f.node.Store(int64(n))
			return nil
		}
	}
	return errors.New("no free node number: the fleet has 1024 members")
}

// renewScript extends a key's lease when it still holds the caller's value.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`)

func (f *Fleet) renewMember(ctx context.Context) error {
	f.mu.Lock()
	m := f.self
	f.mu.Unlock()
	m.Node = int(f.node.Load())
	m.Heartbeat = time.Now().UTC()
	m.Clients = f.srv.clientCount()
	for _, t := range f.srv.Tenants() {
		if st, ok := t.PoolStats(); ok {
			m.Backends += st.Total
		}
	}
	raw, _ := json.Marshal(m)
	return f.rc.Set(ctx, f.key("member", f.id), raw, f.cfg.LeaseTTL).Err()
}

func (f *Fleet) readMembers(ctx context.Context) error {
	var out []Member
	iter := f.rc.Scan(ctx, 0, f.key("member", "*"), 100).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(keys) > 0 {
		vals, err := f.rc.MGet(ctx, keys...).Result()
		if err != nil {
			return err
		}
		for _, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue
			}
			var m Member
			if json.Unmarshal([]byte(s), &m) == nil {
				out = append(out, m)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	hashes := map[string]int{}
	for _, m := range out {
		hashes[m.ConfigHash]++
	}
	common, best := "", 0
	for h, n := range hashes {
		if n > best || n == best && h < common {
			common, best = h, n
		}
	}
	for i := range out {
		out[i].ConfigDiffers = len(hashes) > 1 && out[i].ConfigHash != common
	}
	f.members.Store(&out)
	return nil
}

// Members returns the live members as of the last heartbeat.
func (f *Fleet) Members() []Member {
	if m := f.members.Load(); m != nil {
		return append([]Member(nil), (*m)...)
	}
	return nil
}

// liveMembers returns the ids of the live members (this one included).
func (f *Fleet) liveMembers() map[string]bool {
	live := map[string]bool{f.id: true}
	for _, m := range f.Members() {
		live[m.ID] = true
	}
	return live
}

// FleetStatus is what health and system status show of the fleet.
type FleetStatus struct {
	Enabled bool     `json:"enabled"`
	ID      string   `json:"id,omitempty"`
	Node    int      `json:"node,omitempty"`
	Redis   string   `json:"redis,omitempty"` // ok, unavailable
	Members []Member `json:"members,omitempty"`
	// ConfigMismatch is set when the members do not all run one config.
	ConfigMismatch bool `json:"config_mismatch,omitempty"`
}

// Fleet returns the fleet's status (Enabled false when this proxy runs
// alone).
func (s *Server) Fleet() FleetStatus {
	f := s.fleet.Load()
	if f == nil {
		return FleetStatus{}
	}
	st := FleetStatus{Enabled: true, ID: f.id, Node: int(f.node.Load()), Redis: "ok", Members: f.Members()}
	if !f.Up() {
		st.Redis = "unavailable"
	}
	for _, m := range st.Members {
		st.ConfigMismatch = st.ConfigMismatch || m.ConfigDiffers
	}
	return st
}
