package admin

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/tenantproxy/tenantproxy/proxy"
)

// cachedAnswer is a cached query answer with the versions of the tables it
// read: once a write through any proxy moved one of them, it is stale.
type cachedAnswer struct {
	Token  string          `json:"token"`
	Tables []string        `json:"tables"`
	Resp   json.RawMessage `json:"resp"`
}

// freshAnswer returns the cached answer under key if none of the tables it
// read was written since it was stored.
func (s *Server) freshAnswer(ctx context.Context, b *proxy.Binding, key string) ([]byte, bool) {
	raw, ok := s.cache.Get(ctx, key)
	if !ok {
		return nil, false
	}
	var ca cachedAnswer
	if json.Unmarshal(raw, &ca) != nil || ca.Token == "" {
		return nil, false
	}
	if s.p.TableToken(ctx, b.Tenant.ID, ca.Tables) != ca.Token {
		s.cache.Delete(ctx, key)
		s.cache.invalidated.Inc()
		return nil, false
	}
	return ca.Resp, true
}

// storeAnswer caches raw, the answer read from tables, unless a write of the
// tenant ran while it was read (seq is the write sequence from before).
func (s *Server) storeAnswer(ctx context.Context, b *proxy.Binding, key, seq string, tables []string, raw []byte) {
	if s.p.WriteSeq(ctx, b.Tenant.ID) != seq {
		return
	}
	out, err := json.Marshal(cachedAnswer{Token: s.p.TableToken(ctx, b.Tenant.ID, tables), Tables: tables, Resp: raw})
	if err == nil {
		s.cache.Set(ctx, key, out)
	}
}

// fleetStatus answers GET /api/v1/admin/fleet: the live proxies of the
// fleet with their version, config hash and connection counts; a config
// hash that differs from the one most members run is flagged (operators only).
func (s *Server) fleetStatus(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	writeJSON(w, http.StatusOK, s.p.Fleet())
}
