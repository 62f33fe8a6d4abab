package mysql

import "github.com/tenantproxy/tenantproxy/policy"

// resultCaps withholds the rows of each result past its statement's cap.
// The policy gave each capped statement LIMIT cap+1 (policy.Stmt.Cap), so
// the client is told rows were withheld (warning 1260) exactly when row
// cap+1 arrives. The results of a multi-statement text come in statement
// order; a cursor's rows, fetched by several COM_STMT_FETCH, are one result.
type resultCaps struct {
	caps     []int // per statement: its cap, 0 when not capped
	idx      int   // the statement whose result is being relayed
	rows     int   // rows of that result forwarded so far
	withheld bool  // some result had rows past its cap
}

// newResultCaps returns the caps of dec's statements, or nil when none is
// capped.
func newResultCaps(dec *policy.Decision) *resultCaps {
	var rc *resultCaps
	for i, st := range dec.Stmts {
		if st.Cap > 0 {
			if rc == nil {
				rc = &resultCaps{caps: make([]int, len(dec.Stmts))}
			}
			rc.caps[i] = st.Cap
		}
	}
	return rc
}

// keep counts one row of the current result and reports whether it is
// forwarded.
func (c *resultCaps) keep() bool {
	if c == nil || c.idx >= len(c.caps) || c.caps[c.idx] == 0 {
		return true
	}
	if c.rows >= c.caps[c.idx] {
		c.withheld = true
		return false
	}
	c.rows++
	return true
}

// next moves on to the next statement's result.
func (c *resultCaps) next() {
	if c != nil {
		c.idx, c.rows = c.idx+1, 0
	}
}

// wasWithheld reports whether rows were withheld.
func (c *resultCaps) wasWithheld() bool { return c != nil && c.withheld }
