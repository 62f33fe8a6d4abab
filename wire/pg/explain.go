package pg

import (
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// explainPolicy answers `EXPLAIN POLICY <statement>` (simple query, admin
// role): the policy's dry-run of the statement as (field, value) rows;
// nothing is sent to the backend.
func (s *session) explainPolicy(sql string) error {
	if err := proxy.ExplainAllowed(s.b); err != nil {
		return s.refuseSimple(err)
	}
	x := s.srv.p.Explain(s.b, sql)
	text := func(name string) pgproto3.FieldDescription {
		return pgproto3.FieldDescription{Name: []byte(name), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1}
	}
	msgs := []pgproto3.BackendMessage{&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{text("field"), text("value")}}}
	for _, r := range proxy.ExplainRows(x, proxy.ProtocolPostgres) {
		msgs = append(msgs, &pgproto3.DataRow{Values: [][]byte{[]byte(r[0]), []byte(r[1])}})
	}
	msgs = append(msgs, &pgproto3.CommandComplete{CommandTag: []byte("EXPLAIN")}, &pgproto3.ReadyForQuery{TxStatus: s.tx})
	return s.c.send(msgs...)
}
