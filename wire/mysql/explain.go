package mysql

import (
	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// explainPolicy answers `EXPLAIN POLICY <statement>` (admin role): the
// policy's dry-run of the statement as (field, value) rows; nothing is sent
// to the backend.
func (s *session) explainPolicy(sql string) error {
	if err := proxy.ExplainAllowed(s.b); err != nil {
		return s.fail(err)
	}
	x := s.srv.p.Explain(s.b, sql)
	if err := s.c.write([]byte{2}); err != nil {
		return err
	}
	for _, name := range []string{"field", "value"} {
		if err := s.c.write(columnDef("", "", name, name, 0xfd)); err != nil {
			return err
		}
	}
	if err := s.c.write(eofPacket(0, s.status)); err != nil {
		return err
	}
	for _, r := range proxy.ExplainRows(x, proxy.ProtocolMySQL) {
		row := gmysql.PutLengthEncodedString([]byte(r[0]))
		row = append(row, gmysql.PutLengthEncodedString([]byte(r[1]))...)
		if err := s.c.write(row); err != nil {
			return err
		}
	}
	return s.reply(eofPacket(0, s.status))
}
