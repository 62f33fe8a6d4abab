package proxy

// Statement digests: per tenant and statement fingerprint, how often a
// statement ran, how long it took, how many rows it moved and how it failed.
//
// The fingerprint comes with the policy's decision (policy.Fingerprint, once
// per analysed text); a statement the policy refused has no decision, and
// its fingerprint is computed here (refusals are answered from the policy's
// cache too, so a small cache of refused texts keeps a repeated refusal off
// the parser).
//
// Memory is bounded per tenant: at most Top+Recent digests. When a new
// fingerprint arrives at a full tenant, the least recently used digest that
// is not among the Top by total time is evicted; the Top set is re-ranked
// every few evictions.

import (
	"cmp"
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Histogram range and precision of digest latencies, in microseconds.
const (
	digestMinMicros = 1
	digestMaxMicros = int64(time.Hour / time.Microsecond)
	digestSigFigs   = 2
)

// DigestConfig bounds the statement digests (config key statements).
type DigestConfig struct {
	// Top is how many digests per tenant are kept by total time (default
	// 100).
	Top int `mapstructure:"top"`
	// Recent is how many further digests per tenant are kept by recency
	// (default 400).
	Recent int `mapstructure:"recent"`
}

// CheckAndSetDefaults validates c and fills in defaults.
func (c *DigestConfig) CheckAndSetDefaults() error {
	if c.Top == 0 {
		c.Top = 100
	}
	if c.Recent == 0 {
		c.Recent = 400
	}
	if c.Top < 0 {
		return fmt.Errorf("top: must be positive, got %d", c.Top)
	}
	if c.Recent < 0 {
		return fmt.Errorf("recent: must be positive, got %d", c.Recent)
	}
	return nil
}

// Digests holds the statement digests of every tenant. It is safe for
// concurrent use.
type Digests struct {
	cfg DigestConfig

	mu      sync.RWMutex
	tenants map[string]*tenantDigests

	refusedMu sync.Mutex
	refused   map[refusedKey]string // text -> fingerprint of refused texts
}

type refusedKey struct {
	d   policy.Dialect
	sql string
}

// maxRefusedTexts and maxRefusedText bound the cache of refused texts'
// fingerprints (entries, and the length of a text kept).
const (
	maxRefusedTexts = 4096
	maxRefusedText  = 4 << 10
)

// NewDigests returns an empty digest store bounded by cfg (defaults filled
// in; an invalid cfg gets the defaults).
func NewDigests(cfg DigestConfig) *Digests {
	if cfg.CheckAndSetDefaults() != nil {
		cfg = DigestConfig{}
		_ = cfg.CheckAndSetDefaults()
	}
	return &Digests{cfg: cfg, tenants: map[string]*tenantDigests{}, refused: map[refusedKey]string{}}
}

// Config returns the bounds in force.
func (ds *Digests) Config() DigestConfig { return ds.cfg }

type tenantDigests struct {
	mu      sync.Mutex
	m       map[string]*list.Element // fingerprint -> element of lru (*digest)
	lru     list.List                // front: most recently used
	evicted int64
	rerank  int // evictions until the top set is ranked again
	since   time.Time
	// every statement of the tenant, whether or not its digest is kept
	calls, errors int64
	hist          *hdr.Histogram
}

// DigestTotals are a tenant's statements taken together.
type DigestTotals struct {
	Calls  int64     `json:"calls"`
	Errors int64     `json:"errors"`
	P50MS  float64   `json:"p50_ms"`
	P99MS  float64   `json:"p99_ms"`
	Since  time.Time `json:"since"`
}

// Totals returns tenant's statements taken together since the last reset.
func (ds *Digests) Totals(tenant string) DigestTotals {
	ds.mu.RLock()
	td := ds.tenants[tenant]
	ds.mu.RUnlock()
	if td == nil {
		return DigestTotals{Since: time.Now().UTC()}
	}
	td.mu.Lock()
	defer td.mu.Unlock()
	return DigestTotals{Calls: td.calls, Errors: td.errors, Since: td.since.UTC(),
		P50MS: float64(td.hist.ValueAtQuantile(50)) / 1000, P99MS: float64(td.hist.ValueAtQuantile(99)) / 1000}
}

type digest struct {
	fp, engine, example, kind string
	calls, rows, rewritten    int64
	errors                    map[string]int64
	total, max                time.Duration
	hist                      *hdr.Histogram
	first, last               time.Time
	top                       bool // in the top set by total time (evict)
}

// DigestRow is one digest as the API shows it.
type DigestRow struct {
	Tenant      string           `json:"tenant"`
	Fingerprint string           `json:"fingerprint"`
	Engine      string           `json:"engine"`
	Kind        string           `json:"kind"`
	Example     string           `json:"example"`
	Calls       int64            `json:"calls"`
	Errors      int64            `json:"errors"`
	ErrorsBy    map[string]int64 `json:"errors_by_category"`
	Rows        int64            `json:"rows"`
	TotalMS     float64          `json:"total_ms"`
	MeanMS      float64          `json:"mean_ms"`
	P50MS       float64          `json:"p50_ms"`
	P95MS       float64          `json:"p95_ms"`
	P99MS       float64          `json:"p99_ms"`
	MaxMS       float64          `json:"max_ms"`
	FirstSeen   time.Time        `json:"first_seen"`
	LastSeen    time.Time        `json:"last_seen"`
	Rewritten   bool             `json:"rewritten"`
	RewriteCall int64            `json:"rewritten_calls"`
}

// DigestSorts are the orders Statements accepts.
var DigestSorts = []string{"total_time", "calls", "p99", "errors", "mean", "rows", "last_seen"}

// Digests returns the server's digest store (created with the default
// bounds when SetDigests was not called).
func (s *Server) Digests() *Digests {
	if d := s.digests.Load(); d != nil {
		return d
	}
	s.digests.CompareAndSwap(nil, NewDigests(DigestConfig{}))
	return s.digests.Load()
}

// SetDigests replaces the server's digest store (before serving).
func (s *Server) SetDigests(d *Digests) { s.digests.Store(d) }

// recordDigest adds one recorded statement to its tenant's digest.
func (s *Server) recordDigest(st *Statement, class string, d time.Duration) {
	b := st.Binding
	if b == nil || b.Tenant == nil {
		return
	}
	ds := s.Digests()
	fp := st.digest
	dialect := b.Tenant.Dialect()
	if fp == "" {
		if st.SQL == "" {
			return
		}
		fp = ds.refusedFingerprint(dialect, st.SQL)
	}
	category := ""
	if st.Err != nil || st.Code != "" {
		if e := sqlerr.As(st.Err); e != nil {
			category = ErrorCategory("", e)
		} else {
			category = ErrorCategory(st.Code, nil)
		}
	}
	ds.add(b.Tenant.ID, b.Tenant.Engine, dialect, fp, st, category, d)
}

// refusedFingerprint returns the fingerprint of a text without a decision;
// an unparsable text gets a hash of its literal-free lexical form.
func (ds *Digests) refusedFingerprint(d policy.Dialect, sql string) string {
	k := refusedKey{d, sql}
	ds.refusedMu.Lock()
	fp, ok := ds.refused[k]
	ds.refusedMu.Unlock()
	if ok {
		return fp
	}
	fp, ok = policy.Fingerprint(d, sql)
	if !ok {
		h := sha256.Sum256([]byte(Fingerprint(d, sql)))
		fp = "x" + hex.EncodeToString(h[:])[:15]
	}
	if len(sql) > maxRefusedText {
		return fp // not kept: the cache stays small
	}
	ds.refusedMu.Lock()
	if len(ds.refused) >= maxRefusedTexts {
		clear(ds.refused)
	}
	ds.refused[k] = fp
	ds.refusedMu.Unlock()
	return fp
}

// mergeDigest combines the fingerprints of a batch's statements: one
// statement's own, or a fingerprint of the sequence.
func mergeDigest(have, next string) string {
	switch {
	case next == "" || next == have:
		return have
	case have == "":
		return next
	}
	h := sha256.Sum256([]byte(have + "," + next))
	return hex.EncodeToString(h[:8])
}

func (ds *Digests) tenant(id string) *tenantDigests {
	ds.mu.RLock()
	td := ds.tenants[id]
	ds.mu.RUnlock()
	if td != nil {
		return td
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if td = ds.tenants[id]; td == nil {
		td = &tenantDigests{m: map[string]*list.Element{}, since: time.Now(),
			hist: hdr.New(digestMinMicros, digestMaxMicros, digestSigFigs)}
		ds.tenants[id] = td
	}
	return td
}

func (ds *Digests) add(tenant, engine string, dialect policy.Dialect, fp string, st *Statement, category string, d time.Duration) {
	td := ds.tenant(tenant)
	now := time.Now()
	td.mu.Lock()
	defer td.mu.Unlock()
	var g *digest
	if el, ok := td.m[fp]; ok {
		td.lru.MoveToFront(el)
		g = el.Value.(*digest)
	} else {
		var h *hdr.Histogram
		if len(td.m) >= ds.cfg.Top+ds.cfg.Recent {
			h = ds.evict(td)
		}
		if h == nil {
			h = hdr.New(digestMinMicros, digestMaxMicros, digestSigFigs)
		}
		g = &digest{fp: fp, engine: engine, kind: st.kind(), first: now,
			example: policy.Example(dialect, st.SQL), hist: h}
		if g.example == "" {
			g.example = Fingerprint(dialect, st.SQL)
		}
		td.m[fp] = td.lru.PushFront(g)
	}
	g.calls++
	g.rows += st.Rows
	g.total += d
	g.max = max(g.max, d)
	g.last = now
	if st.dec.Rewritten {
		g.rewritten++
	}
	if category != "" {
		if g.errors == nil {
			g.errors = map[string]int64{}
		}
		g.errors[category]++
	}
	us := min(max(d.Microseconds(), digestMinMicros), digestMaxMicros)
	_ = g.hist.RecordValue(us)
	_ = td.hist.RecordValue(us)
	td.calls++
	if category != "" {
		td.errors++
	}
}

// evict drops one digest of a full tenant: the least recently used one
// outside the top set by total time (the oldest when every one is in it),
// and returns its histogram, reset, for the newcomer. The top set is ranked
// again every Recent/4 evictions; newcomers are outside it until then.
func (ds *Digests) evict(td *tenantDigests) *hdr.Histogram {
	if td.rerank <= 0 {
		all := make([]*digest, 0, len(td.m))
		for _, el := range td.m {
			g := el.Value.(*digest)
			g.top = false
			all = append(all, g)
		}
		slices.SortFunc(all, func(a, b *digest) int { return cmp.Compare(b.total, a.total) })
		for _, g := range all[:min(ds.cfg.Top, len(all))] {
			g.top = true
		}
		td.rerank = max(1, ds.cfg.Recent/4)
	}
	td.rerank--
	victim := td.lru.Back()
	for el := victim; el != nil; el = el.Prev() {
		if !el.Value.(*digest).top {
			victim = el
			break
		}
	}
	if victim == nil {
		return nil
	}
	g := victim.Value.(*digest)
	delete(td.m, g.fp)
	td.lru.Remove(victim)
	td.evicted++
	g.hist.Reset()
	return g.hist
}

// Reset forgets the digests of tenant, or of every tenant when tenant is "".
func (ds *Digests) Reset(tenant string) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if tenant == "" {
		clear(ds.tenants)
		return
	}
	delete(ds.tenants, tenant)
}

// Len returns how many digests tenant has.
func (ds *Digests) Len(tenant string) int {
	ds.mu.RLock()
	td := ds.tenants[tenant]
	ds.mu.RUnlock()
	if td == nil {
		return 0
	}
	td.mu.Lock()
	defer td.mu.Unlock()
	return len(td.m)
}

// Statements returns the digests of tenant (every tenant when tenant is
// ""), ordered by sortBy (one of DigestSorts; "" is total_time), at most
// limit of them (limit <= 0: all).
func (ds *Digests) Statements(tenant, sortBy string, limit int) ([]DigestRow, error) {
	if sortBy == "" {
		sortBy = "total_time"
	}
	if !slices.Contains(DigestSorts, sortBy) {
		return nil, fmt.Errorf("sort must be one of %s, got %q", strings.Join(DigestSorts, ", "), sortBy)
	}
	ds.mu.RLock()
	ids := make([]string, 0, len(ds.tenants))
	tds := make([]*tenantDigests, 0, len(ds.tenants))
	for id, td := range ds.tenants {
		if tenant == "" || id == tenant {
			ids = append(ids, id)
			tds = append(tds, td)
		}
	}
	ds.mu.RUnlock()
	var rows []DigestRow
	for i, td := range tds {
		td.mu.Lock()
		for _, el := range td.m {
			rows = append(rows, el.Value.(*digest).row(ids[i]))
		}
		td.mu.Unlock()
	}
	key := func(r *DigestRow) float64 {
		switch sortBy {
		case "calls":
			return float64(r.Calls)
		case "p99":
			return r.P99MS
		case "errors":
			return float64(r.Errors)
		case "mean":
			return r.MeanMS
		case "rows":
			return float64(r.Rows)
		case "last_seen":
			return float64(r.LastSeen.UnixNano())
		}
		return r.TotalMS
	}
	sort.SliceStable(rows, func(i, j int) bool {
		ki, kj := key(&rows[i]), key(&rows[j])
		if ki != kj {
			return ki > kj
		}
		if rows[i].Tenant != rows[j].Tenant {
			return rows[i].Tenant < rows[j].Tenant
		}
		return rows[i].Fingerprint < rows[j].Fingerprint
	})
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	return rows, nil
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (g *digest) row(tenant string) DigestRow {
	r := DigestRow{
		Tenant: tenant, Fingerprint: g.fp, Engine: g.engine, Kind: g.kind, Example: g.example,
		Calls: g.calls, Rows: g.rows, ErrorsBy: map[string]int64{},
		TotalMS: msOf(g.total), MaxMS: msOf(g.max),
		P50MS:     float64(g.hist.ValueAtQuantile(50)) / 1000,
		P95MS:     float64(g.hist.ValueAtQuantile(95)) / 1000,
		P99MS:     float64(g.hist.ValueAtQuantile(99)) / 1000,
		FirstSeen: g.first.UTC(), LastSeen: g.last.UTC(),
		Rewritten: g.rewritten > 0, RewriteCall: g.rewritten,
	}
	if g.calls > 0 {
		r.MeanMS = msOf(g.total / time.Duration(g.calls))
	}
	for c, n := range g.errors {
		r.ErrorsBy[c] = n
		r.Errors += n
	}
	return r
}

// Prometheus gets aggregates only: fingerprints never become labels.
var (
	digestCountDesc = prometheus.NewDesc("tenantproxy_statement_digests",
		"Distinct statement digests kept, by tenant.", []string{"tenant"}, nil)
	digestEvictedDesc = prometheus.NewDesc("tenantproxy_statement_digest_evictions_total",
		"Statement digests dropped to keep the per-tenant bound, by tenant.", []string{"tenant"}, nil)
)

type digestCollector struct{ s *Server }

func (c *digestCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- digestCountDesc
	ch <- digestEvictedDesc
}

func (c *digestCollector) Collect(ch chan<- prometheus.Metric) {
	ds := c.s.digests.Load()
	if ds == nil {
		return
	}
	ds.mu.RLock()
	defer ds.mu.RUnlock()
	for id, td := range ds.tenants {
		td.mu.Lock()
		n, ev := len(td.m), td.evicted
		td.mu.Unlock()
		ch <- prometheus.MustNewConstMetric(digestCountDesc, prometheus.GaugeValue, float64(n), id)
		ch <- prometheus.MustNewConstMetric(digestEvictedDesc, prometheus.CounterValue, float64(ev), id)
	}
}
