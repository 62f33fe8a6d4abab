package proxy

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The peer channel: a Postgres CancelRequest arrives on a new connection,
// which the load balancer may hand to any proxy, and a MySQL KILL names a
// connection that may live on another proxy. Every cancel key and MySQL
// connection id a fleet member hands out carries its node number (as
// PgBouncer's peering carries a peer id), so the proxy that receives one
// finds the owner in Redis and forwards it over HTTP, each request signed
// with HMAC-SHA256 under fleet.secret and a timestamp.

// Cancel keys: bits 21..30 of the process id hold the node number; MySQL
// connection ids: bits 22..31.
const (
	cancelNodeShift = 21
	connIDNodeShift = 22
	peerSkew        = 30 * time.Second // accepted clock difference of a signed request
	peerTimeout     = 2 * time.Second
)

// KillFunc kills (query only, or the whole connection) the MySQL
// connection id if it belongs to user on tenant, reporting whether it did.
type KillFunc func(id uint32, user, tenant string, query bool) bool

// SetKillFunc registers the MySQL front end's local KILL, for KILLs other
// fleet members forward.
func (s *Server) SetKillFunc(fn KillFunc) { s.kill.Store(&fn) }

// newCancelPID returns a random process id for a cancel key; in a fleet it
// carries this proxy's node number.
func (s *Server) newCancelPID(r uint32) uint32 {
	if f := s.fleet.Load(); f != nil {
		if n := f.node.Load(); n >= 0 {
			return uint32(n)<<cancelNodeShift | r&(1<<cancelNodeShift-1)
		}
	}
	return r & 0x7fffffff
}

// NewConnID returns the MySQL connection id for the seq-th connection of
// this proxy: unique across the fleet when there is one.
func (s *Server) NewConnID(seq uint32) uint32 {
	if f := s.fleet.Load(); f != nil {
		if n := f.node.Load(); n >= 0 {
			id := uint32(n)<<connIDNodeShift | seq&(1<<connIDNodeShift-1)
			if id == 0 {
				id = 1
			}
			return id
		}
	}
	return seq
}

// forwardCancel sends a cancel request this proxy does not own to the
// fleet member whose node number the key carries.
func (s *Server) forwardCancel(pid, secret uint32) bool {
	f := s.fleet.Load()
	if f == nil || !f.Up() {
		return false
	}
	ok := f.forward("cancel", int(pid>>cancelNodeShift), peerRequest{PID: pid, Secret: secret})
	return ok
}

// ForwardKill sends a KILL of a MySQL connection id this proxy does not
// own to the fleet member that does; it reports whether that member killed
// it (the same user on the same tenant only).
func (s *Server) ForwardKill(id uint32, user, tenant string, query bool) bool {
	f := s.fleet.Load()
	if f == nil || !f.Up() {
		return false
	}
	return f.forward("kill", int(id>>connIDNodeShift), peerRequest{ConnID: id, User: user, Tenant: tenant, Query: query})
}

// peerRequest is the body of a forwarded cancel or KILL.
type peerRequest struct {
	PID    uint32 `json:"pid,omitempty"`
	Secret uint32 `json:"secret,omitempty"`
	ConnID uint32 `json:"conn_id,omitempty"`
	User   string `json:"user,omitempty"`
	Tenant string `json:"tenant,omitempty"`
	Query  bool   `json:"query,omitempty"`
	Nonce  string `json:"nonce"`
	// To is the member the request is for: signed with the rest, so a
	// captured request cannot be replayed to another member.
	To string `json:"to"`
}

type peerResponse struct {
	Done bool `json:"done"`
}

// forward posts req to the member holding node; it reports whether the
// member found and acted on it.
func (f *Fleet) forward(kind string, node int, req peerRequest) bool {
	if node == int(f.node.Load()) {
		return false // ours, and not found locally
	}
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	owner, err := f.rc.Get(ctx, f.key("node", strconv.Itoa(node))).Result()
	if err != nil {
		f.forwarded.WithLabelValues(kind, "no_owner").Inc()
		return false
	}
	raw, err := f.rc.Get(ctx, f.key("member", owner)).Bytes()
	if err != nil {
		f.forwarded.WithLabelValues(kind, "no_owner").Inc()
		return false
	}
	var m Member
	if json.Unmarshal(raw, &m) != nil || m.PeerAddr == "" {
		f.forwarded.WithLabelValues(kind, "no_owner").Inc()
		return false
	}
	var nb [12]byte
	_, _ = rand.Read(nb[:])
	req.Nonce = hex.EncodeToString(nb[:])
	req.To = m.ID
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+m.PeerAddr+"/peer/v1/"+kind, bytes.NewReader(body))
	if err != nil {
		return false
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	hr.Header.Set("X-Tenantproxy-Time", ts)
	hr.Header.Set("X-Tenantproxy-Signature", peerSign(f.cfg.Secret, kind, ts, body))
	hr.Header.Set("Content-Type", "application/json")
	resp, err := f.peer.client.Do(hr)
	if err != nil {
		f.forwarded.WithLabelValues(kind, "unreachable").Inc()
		f.log.Warn("fleet_forward_failed", "kind", kind, "peer", m.ID, "error", err)
		return false
	}
	defer resp.Body.Close()
	var pr peerResponse
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&pr) != nil {
		f.forwarded.WithLabelValues(kind, "refused").Inc()
		return false
	}
	outcome := "not_found"
	if pr.Done {
		outcome = "done"
	}
	f.forwarded.WithLabelValues(kind, outcome).Inc()
	return pr.Done
}

// peerSign signs one request: kind, time and body under secret.
func peerSign(secret, kind, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(ts))
	m.Write([]byte{0})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// peerServer serves the peer channel.
type peerServer struct {
	f      *Fleet
	l      net.Listener
	srv    *http.Server
	client *http.Client
	// seen remembers recent nonces, so a captured request cannot be
	// replayed within the accepted clock skew.
	seenMu sync.Mutex
	seen   nonceSet
}

type nonceSet struct {
	cur, prev map[string]bool
	rotated   time.Time
}

func newPeerServer(f *Fleet) (*peerServer, error) {
	l, err := net.Listen("tcp", f.cfg.PeerListen)
	if err != nil {
		return nil, fmt.Errorf("fleet.peer_listen: cannot listen on %s: %w", f.cfg.PeerListen, err)
	}
	p := &peerServer{f: f, l: l, client: &http.Client{Timeout: peerTimeout},
		seen: nonceSet{cur: map[string]bool{}, prev: map[string]bool{}, rotated: time.Now()}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /peer/v1/{kind}", p.handle)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// Addr returns the address the peer channel listens on.
func (p *peerServer) Addr() string { return p.l.Addr().String() }

func (p *peerServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
}

var errPeerAuth = errors.New("peer request not authenticated")

func (p *peerServer) handle(w http.ResponseWriter, r *http.Request) {
	kind := r.PathValue("kind")
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var req peerRequest
	if err := p.verify(kind, r.Header.Get("X-Tenantproxy-Time"), r.Header.Get("X-Tenantproxy-Signature"), body, &req); err != nil {
		p.f.log.Warn("fleet_peer_refused", "remote", r.RemoteAddr, "error", err)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	s := p.f.srv
	var done bool
	switch kind {
	case "cancel":
		done = s.cancelLocal(req.PID, req.Secret)
	case "kill":
		if fn := s.kill.Load(); fn != nil {
			done = (*fn)(req.ConnID, req.User, req.Tenant, req.Query)
		}
	default:
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(peerResponse{Done: done})
}

// verify checks the signature, the time and that the nonce is new.
func (p *peerServer) verify(kind, ts, sig string, body []byte, req *peerRequest) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errPeerAuth
	}
	if d := time.Since(time.Unix(sec, 0)); d > peerSkew || d < -peerSkew {
		return fmt.Errorf("%w: clock skew %s", errPeerAuth, d)
	}
	want := peerSign(p.f.cfg.Secret, kind, ts, body)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return errPeerAuth
	}
	if err := json.Unmarshal(body, req); err != nil || req.Nonce == "" {
		return errPeerAuth
	}
	if req.To != p.f.id {
		return fmt.Errorf("%w: addressed to member %q", errPeerAuth, req.To)
	}
	p.seenMu.Lock()
	defer p.seenMu.Unlock()
	ns := &p.seen
	if time.Since(ns.rotated) > peerSkew {
		*ns = nonceSet{cur: map[string]bool{}, prev: ns.cur, rotated: time.Now()}
	}
	if ns.cur[req.Nonce] || ns.prev[req.Nonce] {
		return fmt.Errorf("%w: replayed", errPeerAuth)
	}
	ns.cur[req.Nonce] = true
	return nil
}
