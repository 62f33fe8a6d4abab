package mysql

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// capWarningCode is the warning number of the proxy's capped-result
// warning (ER_CUT_VALUE_GROUP_CONCAT: "rows were cut").
const capWarningCode = 1260

// relayOpts says how to relay one command's response.
type relayOpts struct {
	binary       bool        // rows in the binary protocol (COM_STMT_EXECUTE)
	meta         bool        // rows may show database names: rewrite and filter them
	caps         *resultCaps // row caps of the results (capped.go); nil: none
	showWarnings bool        // SHOW WARNINGS: append the proxy's pending warning
	fieldList    bool        // COM_FIELD_LIST: column definitions up to EOF
	fetch        bool        // COM_STMT_FETCH: rows up to EOF
	masked       []string    // "table.column" masks of the role for the statement
	// stmts are the analysed statements whose results these are, in order:
	// masks are decided from their Output (see decideMasks).
	stmts []policy.Stmt
	// st is the prepared statement executed (COM_STMT_EXECUTE) or fetched
	// from (COM_STMT_FETCH): a cursor's columns are kept on it.
	st *stmt
}

// relayResult is what the relay learned.
type relayResult struct {
	ok     int // results that completed without error
	failed bool
}

// column is what the relay keeps of a column definition.
type column struct {
	typ       byte
	schemaCol bool   // an information_schema column naming a database
	masked    bool   // a masked column: its values are replaced
	orgName   string // the original column name, lower-case
	name      string // the column's label, lower-case
}

// schemaColumns are information_schema column names that hold a database name.
var schemaColumns = map[string]bool{
	"TABLE_SCHEMA": true, "SCHEMA_NAME": true, "ROUTINE_SCHEMA": true, "TRIGGER_SCHEMA": true,
	"EVENT_OBJECT_SCHEMA": true, "EVENT_SCHEMA": true, "CONSTRAINT_SCHEMA": true,
	"REFERENCED_TABLE_SCHEMA": true, "UNIQUE_CONSTRAINT_SCHEMA": true, "INDEX_SCHEMA": true,
	"SPECIFIC_SCHEMA": true, "OBJECT_SCHEMA": true, "DB": true, "DATABASE": true,
	"TABLE_CATALOG": false, "SEQUENCE_SCHEMA": true, "VIEW_SCHEMA": true, "UDT_SCHEMA": true,
}

// relay forwards the backend's response to the command just sent, packet
// by packet, rewriting what would show the backend's database names. Only
// one packet is held at a time.
func (s *session) relay(o relayOpts) (relayResult, error) {
	var res relayResult
	be := s.be.Conn
	rw := s.rewriter()
	if len(o.masked) > 0 {
		rw.masks = make(map[string]bool, len(o.masked))
		for _, m := range o.masked {
			rw.masks[strings.ToLower(m)] = true
		}
	}
	var cols []column
	next := func() ([]byte, error) {
		_, p, err := be.R.Next()
		if err != nil {
			return nil, s.backendLost(err)
		}
		if len(p) == 0 {
			return nil, s.backendLost(errors.New("empty packet from backend"))
		}
		return p, nil
	}
	terminal := func(p []byte, status, warnings uint16, isOK bool) error {
		s.status = status
		if !o.fetch {
			o.caps.next() // a cursor's fetches are one result
		}
		more := status&gmysql.SERVER_MORE_RESULTS_EXISTS != 0
		if !more {
			// Only the backend's own warnings need its connection for a
			// later SHOW WARNINGS; the proxy answers for its capped warning.
			s.holdWarn = warnings > 0
			if o.caps.wasWithheld() {
				warnings++
				p = setWarnings(p, warnings, isOK)
			}
		}
		return s.c.write(p)
	}
	if o.fieldList {
		for {
			p, err := next()
			if err != nil {
				return res, err
			}
			if p[0] == 0xff {
				return s.relayErr(res, p, rw)
			}
			if isEOF(p) {
				s.done()
				res.ok = 1
				return res, s.c.write(p)
			}
			p, _ = rw.columnDef(p, o.meta)
			if err := s.c.write(p); err != nil {
				return res, err
			}
		}
	}
	if o.fetch {
		cols = o.st.cursorCols
		return s.relayRows(res, cols, o, rw, next, terminal)
	}
	for {
		p, err := next()
		if err != nil {
			return res, err
		}
		switch p[0] {
		case 0x00:
			status, warnings := okStatus(p), okWarnings(p)
			if n, _, k := lenencInt(p[1:]); k > 0 {
				s.aud.Rows += int64(n) // affected rows
			}
			res.ok++
			if err := terminal(p, status, warnings, true); err != nil {
				return res, err
			}
			if status&gmysql.SERVER_MORE_RESULTS_EXISTS == 0 {
				s.done()
				return res, nil
			}
			continue
		case 0xff:
			return s.relayErr(res, p, rw)
		case 0xfb:
			return res, s.backendLost(errors.New("backend asked for LOCAL INFILE data"))
		}
		n, _, k := lenencInt(p)
		if k == 0 || n == 0 || n > 4096 {
			return res, s.backendLost(errors.New("malformed result set header from backend"))
		}
		// The header and the column definitions are held (at most 4096
		// small packets) until the masks are decided: a result whose
		// columns disagree with the analysis is refused before any of it
		// reaches the client.
		// They are copied one after the other into one buffer the session
		// keeps, headEnds marking where each ends.
		s.head = append(s.head[:0], p...)
		s.headEnds = append(s.headEnds[:0], len(s.head))
		cols = s.cols[:0]
		for i := uint64(0); i < n; i++ {
			p, err := next()
			if err != nil {
				return res, err
			}
			if p[0] == 0xff {
				return s.relayErr(res, p, rw)
			}
			var c column
			p, c = rw.columnDef(p, o.meta)
			cols = append(cols, c)
			s.head = append(s.head, p...)
			s.headEnds = append(s.headEnds, len(s.head))
		}
		s.cols = cols
		p, err = next()
		if err != nil {
			return res, err
		}
		if !isEOF(p) {
			return res, s.backendLost(errors.New("missing EOF after column definitions"))
		}
		st := eofStatus(p)
		if err := s.decideMasks(cols, o, res.ok); err != nil {
			return s.refuseResult(res, err, st, st&gmysql.SERVER_STATUS_CURSOR_EXISTS == 0, next)
		}
		start := 0
		for _, end := range s.headEnds {
			if err := s.c.write(s.head[start:end]); err != nil {
				return res, err
			}
			start = end
		}
		if cap(s.head) > 64<<10 {
			s.head = nil // a result of very many or very wide columns
		}
		if st&gmysql.SERVER_STATUS_CURSOR_EXISTS != 0 && o.st != nil {
			// COM_STMT_EXECUTE with a cursor: rows come with COM_STMT_FETCH,
			// masked with this statement's columns.
			o.st.cursorOpen = true
			o.st.cursorCols = append(o.st.cursorCols[:0], cols...)
			s.syncCursor()
			s.status = st
			res.ok++
			s.done()
			return res, s.c.write(p)
		}
		if err := s.c.write(p); err != nil {
			return res, err
		}
		var more bool
		res, more, err = s.relayRowsMore(res, cols, o, rw, next, terminal)
		if err != nil || !more {
			return res, err
		}
	}
}

func (s *session) relayRows(res relayResult, cols []column, o relayOpts, rw *rewriter,
	next func() ([]byte, error), terminal func([]byte, uint16, uint16, bool) error) (relayResult, error) {
	res, _, err := s.relayRowsMore(res, cols, o, rw, next, terminal)
	return res, err
}

// relayRowsMore forwards rows up to the result's EOF and reports whether
// more results follow.
func (s *session) relayRowsMore(res relayResult, cols []column, o relayOpts, rw *rewriter,
	next func() ([]byte, error), terminal func([]byte, uint16, uint16, bool) error) (relayResult, bool, error) {
	for {
		p, err := next()
		if err != nil {
			return res, false, err
		}
		if p[0] == 0xff {
			res, err = s.relayErr(res, p, rw)
			return res, false, err
		}
		if isEOF(p) {
			status := eofStatus(p)
			more := status&gmysql.SERVER_MORE_RESULTS_EXISTS != 0
			if o.showWarnings && !more && s.proxyWarning != "" {
				row := gmysql.PutLengthEncodedString([]byte("Warning"))
				row = append(row, gmysql.PutLengthEncodedString([]byte(strconv.Itoa(capWarningCode)))...)
				row = append(row, gmysql.PutLengthEncodedString([]byte(s.proxyWarning))...)
				if err := s.c.write(row); err != nil {
					return res, false, err
				}
			}
			if o.fetch && status&gmysql.SERVER_STATUS_LAST_ROW_SEND != 0 {
				o.st.cursorOpen = false
				s.syncCursor()
			}
			res.ok++
			if err := terminal(p, status, eofWarnings(p), false); err != nil {
				return res, false, err
			}
			if !more {
				s.done()
			}
			return res, more, nil
		}
		if o.meta {
			var keep bool
			var derr error
			p, keep, derr = rw.row(p, cols, o.binary)
			if derr != nil {
				res, err = s.refuseResult(res, errRowDecode(s.b.Tenant.ID), 0, true, next)
				return res, false, err
			}
			if !keep {
				continue
			}
		}
		if !o.caps.keep() {
			continue
		}
		if hasMasked(cols) {
			var merr error
			if p, merr = maskRow(p, cols, o.binary, s.b.Role.Mask); merr != nil {
				res, err = s.refuseResult(res, errRowDecode(s.b.Tenant.ID), 0, true, next)
				return res, false, err
			}
		}
		if err := s.c.write(p); err != nil {
			return res, false, err
		}
		s.aud.Rows++
	}
}

// relayErr forwards a backend error (with database names rewritten); the
// response ends there.
func (s *session) relayErr(res relayResult, p []byte, rw *rewriter) (relayResult, error) {
	res.failed = true
	s.done()
	e := pool.ParseMySQLError(p)
	if s.timedOut.Load() && e.Code == gmysql.ER_QUERY_INTERRUPTED {
		te := sqlerr.New(sqlerr.StatementTimeout,
			"Query execution was interrupted, maximum statement execution time exceeded (%s for tenant '%s')", s.b.StatementTimeout(), s.b.Tenant.ID)
		s.srv.p.Metrics.Error(s.b.Tenant.ID, te.MySQLState(), te)
		s.aud.Fail(te, "")
		s.holdWarn = false
		return res, s.c.write(encodeErr(te.MySQLCode(), te.MySQLState(), te.Message))
	}
	s.srv.p.Metrics.Error(s.b.Tenant.ID, e.State, e)
	s.aud.Fail(nil, strconv.Itoa(int(e.Code)))
	if msg := rw.text(e.Message); msg != e.Message {
		e.Message = msg
		p = encodeErr(e.Code, e.State, e.Message)
	}
	s.holdWarn = false
	return res, s.c.write(p)
}

// ---- rewriting ----

// rewriter hides the backend's database names: the tenant's own becomes the
// tenant id, rows of metadata queries naming another database are dropped.
type rewriter struct {
	own    string          // the tenant's backend database
	tenant string          // the tenant id shown instead
	others []string        // other tenants' backend databases
	masks  map[string]bool // "table.column" of masked columns, lower-case
	// buf holds the last column definition columnDef rewrote: valid until
	// its next call.
	buf []byte
}

// rewriter returns the session's rewriter set up for its current binding,
// keeping its scratch buffer from one statement to the next.
func (s *session) rewriter() *rewriter {
	buf := s.rw.buf
	if cap(buf) > 64<<10 {
		buf = nil
	}
	s.rw = rewriter{own: s.b.Tenant.Scope.Database, tenant: s.b.Tenant.ID, others: s.others, buf: buf[:0]}
	return &s.rw
}

// text replaces the own database name where it appears as an identifier.
func (rw *rewriter) text(s string) string {
	if rw.own == "" || rw.own == rw.tenant || !strings.Contains(s, rw.own) {
		return s
	}
	return string(replaceIdent([]byte(s), []byte(rw.own), []byte(rw.tenant)))
}

// columnDef rewrites a column definition's schema (and SHOW TABLES' column
// name) and reports the column's type and whether it names a database. A
// rewritten definition is returned in rw.buf; the column's names (which
// only masks need) are kept when masks are set.
func (rw *rewriter) columnDef(p []byte, meta bool) ([]byte, column) {
	var c column
	var fields [6][]byte
	pos := 0
	for i := range fields {
		v, _, n, err := lenencString(p[pos:])
		if err != nil {
			return p, c
		}
		fields[i] = v
		pos += n
	}
	// fixed part: 0x0c, charset(2), length(4), type(1), flags(2), decimals(1)
	if pos+8 <= len(p) {
		c.typ = p[pos+7]
	}
	schema, name, orgName := fields[1], fields[4], fields[5]
	if rw.masks != nil {
		c.orgName, c.name = strings.ToLower(string(orgName)), strings.ToLower(string(name))
		if len(fields[3]) > 0 && rw.masks[strings.ToLower(string(fields[3]))+"."+c.orgName] {
			c.masked = true
		}
	}
	if meta && strings.EqualFold(string(schema), "information_schema") && schemaColumns[strings.ToUpper(string(orgName))] {
		c.schemaCol = true
	}
	if rw.own == "" || rw.own == rw.tenant {
		return p, c
	}
	changed := false
	if string(schema) == rw.own {
		fields[1] = []byte(rw.tenant)
		changed = true
	}
	for _, i := range []int{4, 5} {
		v := fields[i]
		if len(v) >= len("Tables_in_")+len(rw.own) && string(v[:len("Tables_in_")]) == "Tables_in_" &&
			string(v[len("Tables_in_"):len("Tables_in_")+len(rw.own)]) == rw.own {
			fields[i] = append([]byte("Tables_in_"+rw.tenant), v[len("Tables_in_")+len(rw.own):]...)
			changed = true
		} else if meta && bytes.Contains(v, []byte(rw.own)) {
			fields[i] = replaceIdent(v, []byte(rw.own), []byte(rw.tenant))
			changed = true
		}
	}
	if !changed {
		return p, c
	}
	out := rw.buf[:0]
	for _, f := range fields {
		out = appendLenencString(out, f)
	}
	out = append(out, p[pos:]...)
	rw.buf = out
	return out, c
}

// appendLenencString appends v as a length-encoded string.
func appendLenencString(b, v []byte) []byte {
	return append(gmysql.AppendLengthEncodedInteger(b, uint64(len(v))), v...)
}

// row rewrites one row of a metadata query; keep is false for a row that
// names another database. A row it cannot decode is an error: it is never
// forwarded unchecked.
func (rw *rewriter) row(p []byte, cols []column, bin bool) ([]byte, bool, error) {
	out, keep := rw.rowChecked(p, cols, bin)
	if out == nil && keep {
		return nil, false, errMalformed
	}
	return out, keep, nil
}

// rowChecked is row; (nil, true) means p could not be decoded.
func (rw *rewriter) rowChecked(p []byte, cols []column, bin bool) ([]byte, bool) {
	type span struct{ start, end int }
	var vals []span
	var nulls []bool
	pos := 0
	var bitmap []byte
	if bin {
		if len(p) < 1 {
			return nil, true
		}
		nb := (len(cols) + 7 + 2) / 8
		if 1+nb > len(p) {
			return nil, true
		}
		bitmap = p[1 : 1+nb]
		pos = 1 + nb
	}
	for i, c := range cols {
		if bin {
			if bitmap[(i+2)/8]&(1<<((i+2)%8)) != 0 {
				vals = append(vals, span{pos, pos})
				nulls = append(nulls, true)
				continue
			}
			if pos > len(p) {
				return nil, true
			}
			n, isStr := binaryLen(c.typ, p[pos:])
			if n < 0 || pos+n > len(p) {
				return nil, true
			}
			if !isStr {
				vals = append(vals, span{-1, -1})
				nulls = append(nulls, false)
				pos += n
				continue
			}
		}
		if pos >= len(p) {
			return nil, true
		}
		if !bin && p[pos] == 0xfb {
			vals = append(vals, span{pos, pos + 1})
			nulls = append(nulls, true)
			pos++
			continue
		}
		_, _, n, err := lenencString(p[pos:])
		if err != nil {
			return nil, true
		}
		vals = append(vals, span{pos, pos + n})
		nulls = append(nulls, false)
		pos += n
	}
	changed := false
	newVals := make([][]byte, len(vals))
	for i, sp := range vals {
		if nulls[i] || sp.start < 0 {
			continue
		}
		v, _, _, _ := lenencString(p[sp.start:sp.end])
		if cols[i].schemaCol {
			if !strings.EqualFold(string(v), rw.own) {
				return nil, false
			}
			if string(v) != rw.tenant {
				newVals[i] = []byte(rw.tenant)
				changed = true
			}
			continue
		}
		for _, o := range rw.others {
			if containsIdent(v, []byte(o)) {
				return nil, false
			}
		}
		if rw.own != "" && rw.own != rw.tenant && containsIdent(v, []byte(rw.own)) {
			newVals[i] = replaceIdent(v, []byte(rw.own), []byte(rw.tenant))
			changed = true
		}
	}
	if !changed {
		return p, true
	}
	out := make([]byte, 0, len(p)+32)
	last := 0
	for i, sp := range vals {
		if newVals[i] == nil {
			continue
		}
		out = append(out, p[last:sp.start]...)
		out = append(out, gmysql.PutLengthEncodedString(newVals[i])...)
		last = sp.end
	}
	out = append(out, p[last:]...)
	return out, true
}

// binaryLen returns the length of a binary-protocol value of type typ at
// the start of b, and whether it is a length-encoded string.
func binaryLen(typ byte, b []byte) (int, bool) {
	switch typ {
	case gmysql.MYSQL_TYPE_NULL:
		return 0, false
	case gmysql.MYSQL_TYPE_TINY:
		return 1, false
	case gmysql.MYSQL_TYPE_SHORT, gmysql.MYSQL_TYPE_YEAR:
		return 2, false
	case gmysql.MYSQL_TYPE_LONG, gmysql.MYSQL_TYPE_INT24, gmysql.MYSQL_TYPE_FLOAT:
		return 4, false
	case gmysql.MYSQL_TYPE_LONGLONG, gmysql.MYSQL_TYPE_DOUBLE:
		return 8, false
	case gmysql.MYSQL_TYPE_DATE, gmysql.MYSQL_TYPE_DATETIME, gmysql.MYSQL_TYPE_TIMESTAMP, gmysql.MYSQL_TYPE_TIME:
		if len(b) < 1 {
			return -1, false
		}
		return 1 + int(b[0]), false
	}
	return 0, true
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// containsIdent reports whether name occurs in b as a whole identifier
// (case-insensitively).
func containsIdent(b, name []byte) bool {
	return indexIdent(b, name, 0) >= 0
}

func indexIdent(b, name []byte, from int) int {
	if len(name) == 0 {
		return -1
	}
	lb := bytes.ToLower(b)
	ln := bytes.ToLower(name)
	for i := from; i+len(ln) <= len(lb); {
		j := bytes.Index(lb[i:], ln)
		if j < 0 {
			return -1
		}
		j += i
		end := j + len(ln)
		if (j == 0 || !isIdentByte(lb[j-1])) && (end == len(lb) || !isIdentByte(lb[end])) {
			return j
		}
		i = j + 1
	}
	return -1
}

// replaceIdent replaces whole-identifier occurrences of old in b.
func replaceIdent(b, old, repl []byte) []byte {
	var out []byte
	last := 0
	for i := indexIdent(b, old, 0); i >= 0; i = indexIdent(b, old, i+len(old)) {
		out = append(out, b[last:i]...)
		out = append(out, repl...)
		last = i + len(old)
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// ---- packets ----

func isEOF(p []byte) bool { return len(p) > 0 && p[0] == 0xfe && len(p) < 9 }

// okStatus returns an OK packet's status flags.
func okStatus(p []byte) uint16 {
	pos := 1
	for i := 0; i < 2; i++ {
		_, _, n := lenencInt(p[min(pos, len(p)):])
		pos += n
	}
	if pos+2 > len(p) {
		return 0
	}
	return binary.LittleEndian.Uint16(p[pos:])
}

func okWarnings(p []byte) uint16 {
	pos := 1
	for i := 0; i < 2; i++ {
		_, _, n := lenencInt(p[min(pos, len(p)):])
		pos += n
	}
	if pos+4 > len(p) {
		return 0
	}
	return binary.LittleEndian.Uint16(p[pos+2:])
}

func eofWarnings(p []byte) uint16 {
	if len(p) < 5 {
		return 0
	}
	return binary.LittleEndian.Uint16(p[1:])
}

func eofStatus(p []byte) uint16 {
	if len(p) < 5 {
		return 0
	}
	return binary.LittleEndian.Uint16(p[3:])
}

// setWarnings returns p (an OK or EOF packet) with its warning count set.
func setWarnings(p []byte, w uint16, isOK bool) []byte {
	q := append([]byte(nil), p...)
	if !isOK {
		if len(q) >= 5 {
			binary.LittleEndian.PutUint16(q[1:], w)
		}
		return q
	}
	pos := 1
	for i := 0; i < 2; i++ {
		_, _, n := lenencInt(q[min(pos, len(q)):])
		pos += n
	}
	if pos+4 <= len(q) {
		binary.LittleEndian.PutUint16(q[pos+2:], w)
	}
	return q
}

func okPacket(affected, insertID uint64, status, warnings uint16, info string) []byte {
	p := []byte{0x00}
	p = gmysql.AppendLengthEncodedInteger(p, affected)
	p = gmysql.AppendLengthEncodedInteger(p, insertID)
	p = binary.LittleEndian.AppendUint16(p, status)
	p = binary.LittleEndian.AppendUint16(p, warnings)
	return append(p, info...)
}

func eofPacket(warnings, status uint16) []byte {
	p := []byte{0xfe}
	p = binary.LittleEndian.AppendUint16(p, warnings)
	return binary.LittleEndian.AppendUint16(p, status)
}

func encodeErr(code uint16, state, msg string) []byte {
	p := []byte{0xff}
	p = binary.LittleEndian.AppendUint16(p, code)
	p = append(p, '#')
	if len(state) != 5 {
		state = "HY000"
	}
	p = append(p, state...)
	return append(p, msg...)
}

// errPacket encodes err: the proxy's own errors with their kind's MySQL
// number and SQLSTATE, backend errors unchanged.
func errPacket(err error) []byte {
	if e := sqlerr.As(err); e != nil {
		return encodeErr(e.MySQLCode(), e.MySQLState(), e.Message)
	}
	var me *gmysql.MyError
	if errors.As(err, &me) {
		return encodeErr(me.Code, me.State, me.Message)
	}
	e := sqlerr.Wrap(sqlerr.Internal, err, "internal error: %v", err)
	return encodeErr(e.MySQLCode(), e.MySQLState(), e.Message)
}

// mysqlState is the SQLSTATE err is reported with.
func mysqlState(err error) string {
	if e := sqlerr.As(err); e != nil {
		return e.MySQLState()
	}
	var me *gmysql.MyError
	if errors.As(err, &me) {
		return me.State
	}
	return "HY000"
}

// columnDef builds a ColumnDefinition41 of a string column.
func columnDef(schema, table, name, orgName string, typ byte) []byte {
	p := gmysql.PutLengthEncodedString([]byte("def"))
	p = append(p, gmysql.PutLengthEncodedString([]byte(schema))...)
	p = append(p, gmysql.PutLengthEncodedString([]byte(table))...)
	p = append(p, gmysql.PutLengthEncodedString([]byte(table))...)
	p = append(p, gmysql.PutLengthEncodedString([]byte(name))...)
	p = append(p, gmysql.PutLengthEncodedString([]byte(orgName))...)
	p = append(p, 0x0c)
	p = binary.LittleEndian.AppendUint16(p, serverCollation)
	p = binary.LittleEndian.AppendUint32(p, 256)
	p = append(p, typ)
	p = binary.LittleEndian.AppendUint16(p, 0)
	p = append(p, 0, 0, 0)
	return p
}

func itoa(n int) string { return strconv.Itoa(n) }

// lenencInt decodes a length-encoded integer; n is 0 when b is truncated
// (go-mysql's decoder panics on truncated input).
func lenencInt(b []byte) (v uint64, null bool, n int) {
	if len(b) == 0 {
		return 0, false, 0
	}
	switch b[0] {
	case 0xfb:
		return 0, true, 1
	case 0xfc:
		if len(b) < 3 {
			return 0, false, 0
		}
		return uint64(b[1]) | uint64(b[2])<<8, false, 3
	case 0xfd:
		if len(b) < 4 {
			return 0, false, 0
		}
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, false, 4
	case 0xfe:
		if len(b) < 9 {
			return 0, false, 0
		}
		return binary.LittleEndian.Uint64(b[1:]), false, 9
	case 0xff:
		return 0, false, 0
	}
	return uint64(b[0]), false, 1
}

// lenencString decodes a length-encoded string and the bytes it used.
func lenencString(b []byte) ([]byte, bool, int, error) {
	v, null, n := lenencInt(b)
	if n == 0 {
		return nil, false, 0, errMalformed
	}
	if null {
		return nil, true, n, nil
	}
	if v > uint64(len(b)-n) {
		return nil, false, 0, errMalformed
	}
	return b[n : n+int(v)], false, n + int(v), nil
}

var errMalformed = errors.New("malformed length-encoded value")
