package admin

// POST /api/v1/tenant/policy/explain: the policy's dry-run of a statement
// for the caller's tenant and role (or, for the tenant's admins and
// operators, another user's or role's), without running it.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy"
)

type explainRequest struct {
	SQL string `json:"sql"`
	// Mongo is a MongoDB tenant's request (as for /tenant/query).
	Mongo json.RawMessage `json:"mongo"`
	User  string          `json:"user"`
	Role  string          `json:"role"`
}

func (s *Server) explainPolicy(w http.ResponseWriter, r *http.Request, b *proxy.Binding) {
	var req explainRequest
	if e := s.decodeBody(w, r, &req); e != nil {
		writeErr(w, e)
		return
	}
	if strings.TrimSpace(req.SQL) == "" && len(req.Mongo) == 0 {
		writeErr(w, errf(http.StatusBadRequest, "invalid_request", "sql: give the statement to explain"))
		return
	}
	other := req.User != "" && req.User != b.User.Name || req.Role != "" && req.Role != b.Role.Name
	if other && b.Role.Access != policy.AccessAdmin && !isOperator(b) {
		writeErr(w, errf(http.StatusForbidden, "forbidden", "explaining for another user or role needs the admin role (you are %s on %s)", b.Role.Name, b.Tenant.ID))
		return
	}
	nb, err := s.p.BindAs(b, req.User, req.Role)
	if err != nil {
		field := "user"
		if req.User == "" || req.User == b.User.Name {
			field = "role"
		}
		writeErr(w, errf(http.StatusBadRequest, "invalid_request", "%s: %v", field, err))
		return
	}
	if len(req.Mongo) > 0 || isMongo(nb) {
		s.explainMongo(w, nb, req)
		return
	}
	x := s.p.Explain(nb, req.SQL)
	out := map[string]any{
		"tenant_id": nb.Tenant.ID, "engine": nb.Tenant.Engine, "user": nb.User.Name, "role": nb.Role.Name,
		"allowed": x.Allowed, "reasons": x.Reasons,
	}
	if x.Err != nil {
		code := x.Err.SQLState()
		if nb.Tenant.Engine == proxy.EngineMySQL {
			code = strconv.Itoa(int(x.Err.MySQLCode()))
		}
		out["error"] = map[string]any{
			"code": code, "sqlstate": x.Err.SQLState(), "mysql_errno": x.Err.MySQLCode(),
			"message": x.Err.Message, "category": x.Err.Category(),
		}
	} else {
		out["class"], out["kinds"], out["sql"], out["rewritten"] = x.Class, x.Kinds, x.SQL, x.Rewritten
		out["capped"], out["max_rows"], out["masked_columns"], out["tables"] = x.Capped, x.MaxRows, nonNil(x.Masked), nonNil(x.Tables)
	}
	writeJSON(w, http.StatusOK, out)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// explainMongo is the policy's dry run of a MongoDB request.
func (s *Server) explainMongo(w http.ResponseWriter, nb *proxy.Binding, req explainRequest) {
	if req.SQL != "" {
		writeErr(w, fromError(mongoNotSQL(nb)))
		return
	}
	mr, e := mongoRequest(nb, req.Mongo)
	if e != nil {
		writeErr(w, e)
		return
	}
	out := map[string]any{"tenant_id": nb.Tenant.ID, "engine": nb.Tenant.Engine, "user": nb.User.Name, "role": nb.Role.Name}
	dec, err := policy.CheckMongo(nb.Subject, nb.Tenant.Mongo.Collections, mr)
	if err != nil {
		out["allowed"] = false
		ae := fromError(err)
		out["error"] = map[string]any{"code": ae.sqlstate, "sqlstate": ae.sqlstate, "message": ae.Msg, "category": ae.Code}
		out["reasons"] = []string{ae.Msg}
		writeJSON(w, http.StatusOK, out)
		return
	}
	class := "write"
	if dec.Read {
		class = "read"
	}
	info := &proxy.ResultInfo{Capped: dec.Capped, MaxRows: dec.MaxRows, Masked: dec.Masked, Tables: dec.Collections, Rewritten: dec.Rewritten}
	out["allowed"], out["reasons"] = true, []string{mongoExplanation(nb, info)}
	out["class"], out["kinds"], out["sql"], out["rewritten"] = class, []string{dec.Op}, dec.Text(), dec.Rewritten
	out["capped"], out["max_rows"], out["masked_columns"], out["tables"] = dec.Capped, dec.MaxRows, nonNil(dec.Masked), nonNil(dec.Collections)
	writeJSON(w, http.StatusOK, out)
}
