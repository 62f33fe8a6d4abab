package proxy

// The audit log: one JSON line per statement (or extended-protocol batch)
// that a client ran or was refused, written off the client's path.
//
// A front end fills a Statement as the statement goes through and hands it
// to Server.Record at the end. Record updates the statement metrics and
// queues the encoded line on a bounded channel; one writer goroutine owns
// the file. When the channel is full (a slow or stuck disk) the line is
// dropped and counted in tenantproxy_audit_dropped_total: a client never
// waits for the audit log. Reopen (SIGHUP) closes and reopens the file so
// that an external rotation (logrotate: rename, then signal) takes effect.
//
// What of the SQL text is logged is configured (config key audit):
//   - by default nothing of the text: kind, class, rows, error code, ...;
//   - fingerprint: true logs the text with every literal replaced by "?"
//     and comments dropped (see Fingerprint), so the shape of a statement
//     is kept without the values it carried;
//   - log_literals: true logs the client's text as sent, literals included.
//
// Values of bound parameters (Postgres Bind, MySQL COM_STMT_EXECUTE) are
// never logged.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tenantproxy/tenantproxy/policy"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Front-end names of audit records.
const (
	ProtocolPostgres = "postgres"
	ProtocolMySQL    = "mysql"
	ProtocolHTTP     = "http"
)

// maxAuditSQL bounds the SQL text (or fingerprint) kept in one audit line.
const maxAuditSQL = 16 << 10

// AuditConfig configures the audit log (config key audit).
type AuditConfig struct {
	// Path is where lines go: "" disables the audit log, "-" is standard
	// output, anything else a file opened for appending (created 0600).
	Path string `mapstructure:"path"`
	// LogLiterals logs each statement's text as the client sent it,
	// literals included. Off by default.
	LogLiterals bool `mapstructure:"log_literals"`
	// Fingerprint, when LogLiterals is off, logs the text with literals
	// replaced by "?" and comments removed.
	Fingerprint bool `mapstructure:"fingerprint"`
	// Buffer is how many lines may wait for the writer before new ones are
	// dropped (default 4096).
	Buffer int `mapstructure:"buffer"`
}

// CheckAndSetDefaults validates c and fills in defaults.
func (c *AuditConfig) CheckAndSetDefaults() error {
	if c.Buffer == 0 {
		c.Buffer = 4096
	}
	if c.Buffer < 0 {
		return fmt.Errorf("buffer must be positive, got %d", c.Buffer)
	}
	if c.Path == "" && (c.LogLiterals || c.Fingerprint) {
		return errors.New("path: log_literals and fingerprint need an audit path")
	}
	return nil
}

// Statement is what Record needs of one statement, or of one
// extended-protocol batch (Parse/Bind/Execute... up to Sync): a front end
// starts it when the statement arrives, fills it in as it learns things and
// records it at the end, whether the statement ran, failed or was refused.
type Statement struct {
	Start    time.Time // arrival of the statement
	Protocol string    // ProtocolPostgres, ProtocolMySQL or ProtocolHTTP
	Client   string    // the client's address
	Binding  *Binding  // the binding the statement was checked under
	// SQL is the client's text (several texts of a batch joined by ";\n");
	// it reaches the log only as the audit config says.
	SQL string
	// Rows is the number of rows the statement returned or changed
	// (Postgres: summed from the CommandComplete tags; MySQL: rows sent or
	// affected rows).
	Rows int64
	// Err is the proxy's error sent to the client, if any.
	Err error
	// Code is the error code sent to the client (SQLSTATE for Postgres and
	// HTTP, MySQL error number for MySQL), if any; derived from Err when
	// empty.
	Code string

	dec      policy.Decision // the statements' decisions, merged
	analysed bool
	// txWrites are the writes of the session's open transaction, noted
	// again when a transaction statement ends it (fleetcache.go); kept
	// across Begin.
	txWrites policy.Decision
	digest   string // the statements' fingerprint (digest.go)
}

// Begin resets st for a new statement of binding b.
func (st *Statement) Begin(protocol, client string, b *Binding) {
	*st = Statement{Start: time.Now(), Protocol: protocol, Client: client, Binding: b, dec: policy.Decision{Stmts: st.dec.Stmts[:0]}, txWrites: st.txWrites}
}

// Add merges the policy decision of one statement of the batch, with its
// text.
func (st *Statement) Add(dec *policy.Decision, sql string) {
	if dec == nil {
		return
	}
	st.analysed = true
	st.dec.Stmts = append(st.dec.Stmts, dec.Stmts...)
	st.dec.Rewritten = st.dec.Rewritten || dec.Rewritten
	st.digest = mergeDigest(st.digest, dec.Digest)
	st.AddSQL(sql)
}

// AddSQL adds a text of the batch that has no decision (a refused one).
func (st *Statement) AddSQL(sql string) {
	if sql == "" || len(st.SQL) > maxAuditSQL {
		return
	}
	if st.SQL != "" {
		st.SQL += ";\n"
	}
	st.SQL += sql
}

// Fail records the error sent to the client; the first one is kept.
func (st *Statement) Fail(err error, code string) {
	if st.Err == nil && st.Code == "" {
		st.Err, st.Code = err, code
	}
}

// Empty reports that nothing was run nor refused: there is nothing to record.
func (st *Statement) Empty() bool {
	return (!st.analysed || len(st.dec.Stmts) == 0) && st.Err == nil && st.Code == ""
}

// kind lists the statement kinds, consecutive repeats once.
func (st *Statement) kind() string {
	var b strings.Builder
	last := ""
	for _, x := range st.dec.Stmts {
		if x.Kind == "" || x.Kind == last {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x.Kind)
		last = x.Kind
	}
	if b.Len() == 0 && st.SQL != "" {
		return firstWord(st.SQL)
	}
	return b.String()
}

// firstWord returns the upper-case leading keyword of a text (after
// comments), which carries no data.
func firstWord(sql string) string {
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ';':
			i++
		case strings.HasPrefix(sql[i:], "--") || c == '#':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return ""
			}
			i += j + 1
		case strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return ""
			}
			i += j + 4
		default:
			j := i
			for j < len(sql) && j-i < 32 && (sql[j] >= 'a' && sql[j] <= 'z' || sql[j] >= 'A' && sql[j] <= 'Z') {
				j++
			}
			return strings.ToUpper(sql[i:j])
		}
	}
	return ""
}

// auditLine is the JSON form of one record.
type auditLine struct {
	Time        string  `json:"time"`
	Protocol    string  `json:"protocol"`
	User        string  `json:"user"`
	Tenant      string  `json:"tenant"`
	Role        string  `json:"role"`
	Client      string  `json:"client,omitempty"`
	Kind        string  `json:"kind"`
	Class       string  `json:"class"`
	Rewritten   bool    `json:"rewritten"`
	Rows        int64   `json:"rows"`
	DurationMS  float64 `json:"duration_ms"`
	Error       string  `json:"error"`
	Category    string  `json:"error_category,omitempty"`
	SQL         string  `json:"sql,omitempty"`
	Fingerprint string  `json:"fingerprint,omitempty"`
}

// Record ends a statement: it counts it in tenantproxy_statements_total and
// the latency histogram (statements that got as far as the policy check)
// and writes its audit line. Errors are counted where they are sent to the
// client (Metrics.Error), not here.
func (s *Server) Record(st *Statement) {
	if st == nil || st.Binding == nil || st.Empty() {
		return
	}
	d := time.Since(st.Start)
	b := st.Binding
	class := ""
	if st.analysed && len(st.dec.Stmts) > 0 {
		class = st.dec.Class().String()
		s.Metrics.Statement(b.Tenant.ID, class, d)
		s.noteStatementWrites(b.Tenant.ID, st)
	}
	s.recordDigest(st, class, d)
	a := s.audit.Load()
	if a == nil {
		return
	}
	code, category := st.Code, ""
	if e := sqlerr.As(st.Err); e != nil {
		if code == "" {
			code = e.SQLState()
			if st.Protocol == ProtocolMySQL {
				code = strconv.Itoa(int(e.MySQLCode()))
			}
		}
		category = ErrorCategory("", e)
	} else if code != "" {
		category = "backend"
	}
	line := auditLine{
		Time: st.Start.UTC().Format(time.RFC3339Nano), Protocol: st.Protocol,
		User: b.User.Name, Tenant: b.Tenant.ID, Role: b.Role.Name, Client: st.Client,
		Kind: st.kind(), Class: class, Rewritten: st.dec.Rewritten, Rows: st.Rows,
		DurationMS: float64(d.Microseconds()) / 1000, Error: code, Category: category,
	}
	switch {
	case a.cfg.LogLiterals:
		line.SQL = truncate(st.SQL)
	case a.cfg.Fingerprint:
		line.Fingerprint = truncate(Fingerprint(b.Tenant.Dialect(), st.SQL))
	}
	a.write(&line)
}

func truncate(s string) string {
	if len(s) <= maxAuditSQL {
		return s
	}
	cut := maxAuditSQL
	for cut > 0 && s[cut]&0xc0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

// SetAudit makes a the server's audit log (nil: none). It may be called
// while serving, for a reload.
func (s *Server) SetAudit(a *AuditLog) { s.audit.Store(a) }

// AuditLog writes audit lines from a bounded queue on its own goroutine.
// A nil *AuditLog is a disabled log.
type AuditLog struct {
	cfg    AuditConfig
	log    *slog.Logger
	stdout io.Writer
	ch     chan []byte
	reopen chan chan error
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once

	records, dropped, failures prometheus.Counter

	// owned by the writer goroutine
	f       *os.File
	w       *bufio.Writer
	failing bool
}

// NewAuditLog opens the audit log cfg describes and starts its writer, or
// returns nil when cfg.Path is empty. stdout receives the lines of path
// "-". Its metrics go to reg.
func NewAuditLog(cfg AuditConfig, stdout io.Writer, reg prometheus.Registerer, log *slog.Logger) (*AuditLog, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	if cfg.Path == "" {
		return nil, nil
	}
	a := &AuditLog{
		cfg: cfg, log: log, stdout: stdout,
		ch:     make(chan []byte, cfg.Buffer),
		reopen: make(chan chan error),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantproxy_audit_records_total", Help: "Audit lines written.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantproxy_audit_dropped_total", Help: "Audit lines dropped because the writer fell behind (queue full).",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantproxy_audit_write_errors_total", Help: "Audit lines lost to write or open errors.",
		}),
	}
	if err := a.open(); err != nil {
		return nil, err
	}
	a.records = register(reg, a.records)
	a.dropped = register(reg, a.dropped)
	a.failures = register(reg, a.failures)
	go a.run()
	return a, nil
}

// register registers c on reg, or returns the collector already registered
// there under its name (a log or alerter made again for a reload keeps its
// series). A nil reg registers nothing.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
		panic(err)
	}
	return c
}

// open opens (or reopens) the output; owned by the writer goroutine after
// NewAuditLog.
func (a *AuditLog) open() error {
	if a.cfg.Path == "-" {
		if a.w == nil {
			a.w = bufio.NewWriterSize(a.stdout, 64<<10)
		}
		return nil
	}
	f, err := os.OpenFile(a.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: open %s: %w", a.cfg.Path, err)
	}
	if a.w != nil {
		_ = a.w.Flush()
	}
	if a.f != nil {
		_ = a.f.Close()
	}
	a.f = f
	a.w = bufio.NewWriterSize(f, 64<<10)
	return nil
}

// write queues one line, or drops it when the queue is full.
func (a *AuditLog) write(line *auditLine) {
	b, err := json.Marshal(line)
	if err != nil {
		a.failures.Inc()
		return
	}
	b = append(b, '\n')
	select {
	case a.ch <- b:
	default:
		a.dropped.Inc()
	}
}

func (a *AuditLog) run() {
	defer close(a.done)
	for {
		select {
		case b := <-a.ch:
			a.put(b)
			if len(a.ch) == 0 {
				a.flush()
			}
		case reply := <-a.reopen:
			a.flush()
			err := a.open()
			if err != nil {
				a.failures.Inc()
			}
			reply <- err
		case <-a.stop:
			for {
				select {
				case b := <-a.ch:
					a.put(b)
				default:
					a.flush()
					if a.f != nil {
						_ = a.f.Close()
					}
					return
				}
			}
		}
	}
}

func (a *AuditLog) put(b []byte) {
	if _, err := a.w.Write(b); err != nil {
		a.failed(err)
		return
	}
	a.records.Inc()
}

func (a *AuditLog) flush() {
	if err := a.w.Flush(); err != nil {
		a.failed(err)
		// A failed bufio.Writer keeps its error: start afresh so that a
		// disk that recovers (or a reopen) brings the log back.
		if a.f != nil {
			a.w = bufio.NewWriterSize(a.f, 64<<10)
		} else {
			a.w = bufio.NewWriterSize(a.stdout, 64<<10)
		}
		return
	}
	a.failing = false
}

func (a *AuditLog) failed(err error) {
	a.failures.Inc()
	if !a.failing {
		a.failing = true
		a.log.Error("audit_write_failed", "path", a.cfg.Path, "error", err)
	}
}

// Reopen closes and reopens the audit file (log rotation, on SIGHUP).
// Lines already queued go to the old file first. It waits at most 5s for
// the writer. A nil log or standard output does nothing.
func (a *AuditLog) Reopen() error {
	if a == nil || a.cfg.Path == "-" {
		return nil
	}
	reply := make(chan error, 1)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case a.reopen <- reply:
	case <-a.done:
		return errors.New("audit: log closed")
	case <-t.C:
		return errors.New("audit: reopen: the writer is stuck (slow disk?)")
	}
	select {
	case err := <-reply:
		return err
	case <-t.C:
		return errors.New("audit: reopen: the writer is stuck (slow disk?)")
	}
}

// Close writes the lines still queued and closes the file. Lines recorded
// after Close are dropped.
func (a *AuditLog) Close() error {
	if a == nil {
		return nil
	}
	a.once.Do(func() { close(a.stop) })
	<-a.done
	return nil
}

// Fingerprint returns sql with every literal (strings, numbers, hex and bit
// strings, Postgres dollar-quoted strings, MySQL double-quoted strings)
// replaced by "?", comments removed and runs of white space collapsed.
// Identifiers, keywords, operators and parameter markers ($1, ?) are kept.
// An unterminated literal ends the fingerprint with "?": nothing after an
// opening quote is ever returned.
func Fingerprint(d policy.Dialect, sql string) string {
	my := d == policy.MySQL
	var b strings.Builder
	b.Grow(len(sql))
	space := false
	emit := func(s string) {
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteString(s)
	}
	isIdent := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80 || (my && c == '$')
	}
	// quoted returns the end of a quoted literal starting at i (the quote),
	// or -1 when it is unterminated.
	quoted := func(i int, q byte, backslash bool) int {
		for j := i + 1; j < len(sql); j++ {
			switch c := sql[j]; {
			case backslash && c == '\\':
				j++
			case c == q:
				if j+1 < len(sql) && sql[j+1] == q {
					j++
					continue
				}
				return j + 1
			}
		}
		return -1
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			space = true
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-', my && c == '#':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return b.String()
			}
			space = true
			i += j + 1
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			depth, j := 1, i+2
			for j < len(sql) && depth > 0 {
				switch {
				case strings.HasPrefix(sql[j:], "*/"):
					depth--
					j += 2
				case !my && strings.HasPrefix(sql[j:], "/*"):
					depth++
					j += 2
				default:
					j++
				}
			}
			if depth > 0 {
				return b.String()
			}
			space = true
			i = j
		case c == '\'' || (my && c == '"'):
			j := quoted(i, c, my)
			emit("?")
			if j < 0 {
				return b.String()
			}
			i = j
		case c == '"' || c == '`':
			j := quoted(i, c, false)
			if j < 0 {
				emit("?")
				return b.String()
			}
			emit(sql[i:j])
			i = j
		case c == '$' && !my:
			// $n parameter, or $tag$ ... $tag$ dollar quoting.
			j := i + 1
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			if j > i+1 {
				emit(sql[i:j])
				i = j
				continue
			}
			for j < len(sql) && isIdent(sql[j]) && sql[j] != '$' {
				j++
			}
			if j < len(sql) && sql[j] == '$' {
				tag := sql[i : j+1]
				end := strings.Index(sql[j+1:], tag)
				emit("?")
				if end < 0 {
					return b.String()
				}
				i = j + 1 + end + len(tag)
				continue
			}
			emit("$")
			i++
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9':
			j := i
			for j < len(sql) && (isIdent(sql[j]) || sql[j] == '.' ||
				(sql[j] == '+' || sql[j] == '-') && (sql[j-1] == 'e' || sql[j-1] == 'E')) {
				j++
			}
			emit("?")
			i = j
		case isIdent(c):
			j := i
			for j < len(sql) && isIdent(sql[j]) {
				j++
			}
			word := sql[i:j]
			if j < len(sql) && sql[j] == '\'' && isLiteralPrefix(word, sql[j:]) {
				// E'..', B'..', X'..', N'..', U&'..', _utf8mb4'..'
				k := quoted(j, '\'', my || strings.EqualFold(word, "e"))
				emit("?")
				if k < 0 {
					return b.String()
				}
				i = k
				continue
			}
			if !my && strings.EqualFold(word, "u") && strings.HasPrefix(sql[j:], "&'") {
				k := quoted(j+1, '\'', false)
				emit("?")
				if k < 0 {
					return b.String()
				}
				i = k
				continue
			}
			emit(word)
			i = j
		default:
			// Operators and punctuation: one byte at a time, no space
			// before commas and closing parentheses.
			if c == ',' || c == ')' || c == ';' {
				space = false
			}
			emit(string(c))
			if c == '(' {
				space = false
			}
			i++
		}
	}
	return b.String()
}

// isLiteralPrefix reports whether word directly before a quote makes it a
// typed string literal rather than an identifier followed by a string.
func isLiteralPrefix(word, _ string) bool {
	switch strings.ToLower(word) {
	case "e", "b", "x", "n":
		return true
	}
	return strings.HasPrefix(word, "_") // MySQL charset introducer
}

// TagRows returns the row count of a Postgres CommandComplete tag ("SELECT
// 5", "INSERT 0 5", "UPDATE 3", ...; a trailing NUL is allowed), or 0 for a
// tag without one ("CREATE TABLE").
func TagRows(tag []byte) int64 {
	if n := len(tag); n > 0 && tag[n-1] == 0 {
		tag = tag[:n-1]
	}
	i := len(tag)
	for i > 0 && tag[i-1] >= '0' && tag[i-1] <= '9' {
		i--
	}
	if i == len(tag) || i == 0 || tag[i-1] != ' ' {
		return 0
	}
	digits := tag[i:]
	if len(digits) > 18 {
		// Might not fit: the slow path says so.
		n, err := strconv.ParseInt(string(digits), 10, 64)
		if err != nil {
			return 0
		}
		return n
	}
	var n int64
	for _, c := range digits {
		n = n*10 + int64(c-'0')
	}
	return n
}
