package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantproxy/tenantproxy/policy"
)

// Table versions for cache invalidation on write. Every write or DDL a
// tenant runs (on the wire or through the API, on any proxy of the fleet)
// moves the version of each table it names, the tenant-wide version "*"
// (a trigger, a view or a function can carry a write to tables the
// statement does not name, so every cached result of the tenant is
// dropped), and the tenant's write sequence. A cached result records the versions of the tables it read
// (TableToken) and is stale once any moved; a result whose reading
// overlapped a write of its tenant (WriteSeq changed) is not cached at all.
//
// Alone, the versions are this process's counters. In a fleet they live in
// Redis (tv:<tenant>:<table>, INCR) under an epoch that a Redis restart
// renews, and every proxy reads them fresh when it checks an entry, so a
// read after a write through another proxy never returns the old cached
// rows. While Redis is down the local counters are used (a token says
// which), so an entry is never taken for fresh across the switch.

type tableVersions struct {
	mu   sync.Mutex
	v    map[string]uint64 // tenant \x00 table -> local version
	seq  map[string]uint64 // tenant -> local write sequence
	boot string            // distinguishes this process's local tokens

	queue chan tableWrite
	once  sync.Once
}

type tableWrite struct {
	tenant string
	tables []string
}

func (tv *tableVersions) init() {
	tv.once.Do(func() {
		tv.v = map[string]uint64{}
		tv.seq = map[string]uint64{}
		var b [6]byte
		_, _ = rand.Read(b[:])
		tv.boot = hex.EncodeToString(b[:])
		tv.queue = make(chan tableWrite, 4096)
	})
}

// noteWrites records that dec, run for tenant, may change the tables it
// names: locally at once, and in the fleet at once too when now is set (so
// that a read through another proxy after the write's answer sees the
// moved versions), else in the background. It is called before a write
// runs (now) and again after it ended, so that a result read while it ran
// is never kept as fresh.
func (s *Server) noteWrites(tenant string, dec *policy.Decision, now bool) {
	var tables []string
	for _, st := range dec.Stmts {
		if st.Class == policy.ClassWrite || st.Class == policy.ClassDDL {
			tables = append(tables, st.Tables...)
		}
	}
	if len(tables) == 0 && !writes(dec) {
		return
	}
	// A write may change more than the tables it names (triggers, and the
	// views and functions over them that a cached read named instead):
	// the tenant-wide version "*", which every token carries, moves too.
	// The table versions stay for the record of what was written.
	tables = append(tables, "*")
	tv := &s.tables
	tv.init()
	tv.mu.Lock()
	tv.seq[tenant]++
	for _, t := range tables {
		tv.v[tenant+"\x00"+t]++
	}
	tv.mu.Unlock()
	if f := s.fleet.Load(); f != nil && f.Up() {
		w := tableWrite{tenant: tenant, tables: tables}
		if now {
			f.publishWrite(w) // one pipelined Redis round trip per write, bounded by publishTimeout
			return
		}
		select {
		case tv.queue <- w:
		default:
			go f.publishWrite(w)
		}
	}
}

// writes reports whether dec writes or changes a schema.
func writes(dec *policy.Decision) bool {
	for _, st := range dec.Stmts {
		if st.Class == policy.ClassWrite || st.Class == policy.ClassDDL {
			return true
		}
	}
	return false
}

// WriteSeq returns the tenant's write sequence; a result whose reading
// began and ended with the same value read no table a write moved meanwhile.
func (s *Server) WriteSeq(ctx context.Context, tenant string) string {
	tv := &s.tables
	tv.init()
	tv.mu.Lock()
	local := "l" + tv.boot + ":" + strconv.FormatUint(tv.seq[tenant], 10)
	tv.mu.Unlock()
	if f := s.fleet.Load(); f != nil && f.Up() {
		if tok, ok := f.versions(ctx, f.key("tv", tenant)); ok {
			return tok + "/" + local
		}
	}
	return local
}

// TableToken returns the versions of tenant's tables (and of writes whose
// tables were unknown) as one comparable string.
func (s *Server) TableToken(ctx context.Context, tenant string, tables []string) string {
	names := append([]string{"*"}, tables...)
	if f := s.fleet.Load(); f != nil && f.Up() {
		keys := make([]string, len(names))
		for i, t := range names {
			keys[i] = f.key("tv", tenant, t)
		}
		if tok, ok := f.versions(ctx, keys...); ok {
			return tok + "/" + s.localToken(tenant, names)
		}
	}
	return s.localToken(tenant, names)
}

// localToken is the token of this process's own counters.
func (s *Server) localToken(tenant string, names []string) string {
	tv := &s.tables
	tv.init()
	tv.mu.Lock()
	defer tv.mu.Unlock()
	var b strings.Builder
	b.WriteString("l" + tv.boot)
	for _, t := range names {
		b.WriteByte(':')
		b.WriteString(strconv.FormatUint(tv.v[tenant+"\x00"+t], 10))
	}
	return b.String()
}

// versions reads the fleet's version keys, with the epoch in the same
// round trip: a Redis that restarted (and forgot its versions) has a new
// epoch, so no entry stored before is taken for fresh.
func (f *Fleet) versions(ctx context.Context, keys ...string) (string, bool) {
	ek := f.key("tv-epoch")
	vals, err := f.rc.MGet(ctx, append([]string{ek}, keys...)...).Result()
	if err != nil {
		f.errors.WithLabelValues("table_versions").Inc()
		return "", false
	}
	epoch, ok := vals[0].(string)
	if !ok {
		var b [6]byte
		_, _ = rand.Read(b[:])
		if err := f.rc.SetNX(ctx, ek, hex.EncodeToString(b[:]), 0).Err(); err != nil {
			return "", false
		}
		if epoch, err = f.rc.Get(ctx, ek).Result(); err != nil {
			return "", false
		}
	}
	var b strings.Builder
	b.WriteString("r" + epoch)
	for _, v := range vals[1:] {
		b.WriteByte(':')
		if sv, ok := v.(string); ok {
			b.WriteString(sv)
		}
	}
	return b.String(), true
}

// publishTimeout bounds the Redis round trip a write waits for.
const publishTimeout = 200 * time.Millisecond

// publishWrite moves the fleet's versions of w's tables.
func (f *Fleet) publishWrite(w tableWrite) {
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	pipe := f.rc.Pipeline()
	pipe.Incr(ctx, f.key("tv", w.tenant))
	for _, t := range w.tables {
		pipe.Incr(ctx, f.key("tv", w.tenant, t))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		f.errors.WithLabelValues("publish_write").Inc()
	}
}

// publisher drains the write queue.
func (f *Fleet) publisher() {
	tv := &f.srv.tables
	tv.init()
	for {
		select {
		case <-f.stop:
			return
		case w := <-tv.queue:
			f.publishWrite(w)
		}
	}
}

// maxTxWrites bounds the writes a session remembers for its transaction's
// end; past it the tenant's unknown-table version moves instead.
const maxTxWrites = 64

// noteStatementWrites notes the writes of a statement that ended, and, when
// it ran a transaction statement (COMMIT, ROLLBACK, ...), the writes of the
// transaction it may have ended: a result read while the transaction was
// open saw the old rows.
func (s *Server) noteStatementWrites(tenant string, st *Statement) {
	s.noteWrites(tenant, &st.dec, false)
	tx := false
	for _, x := range st.dec.Stmts {
		switch x.Class {
		case policy.ClassWrite, policy.ClassDDL:
			if len(st.txWrites.Stmts) < maxTxWrites {
				st.txWrites.Stmts = append(st.txWrites.Stmts, policy.Stmt{Class: x.Class, Tables: x.Tables})
			} else {
				st.txWrites.Stmts[maxTxWrites-1] = policy.Stmt{Class: policy.ClassWrite} // "*"
			}
		case policy.ClassTx:
			tx = true
		}
	}
	if tx && len(st.txWrites.Stmts) > 0 {
		s.noteWrites(tenant, &st.txWrites, true)
		st.txWrites.Stmts = st.txWrites.Stmts[:0]
	}
}
