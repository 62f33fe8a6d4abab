package pg

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// rowCap withholds the rows of one result past its statement's cap. The
// policy gave the backend statement LIMIT max+1 (policy.Stmt.Cap), so the
// client is told rows were withheld exactly when row max+1 arrives. A
// portal's rowCap lives as long as the portal: a result fetched by several
// Executes is counted as one.
type rowCap struct {
	max      int  // rows the client may receive
	rows     int  // rows forwarded so far
	dropped  int  // rows withheld by the current Execute
	withheld bool // rows were withheld
	noticed  bool // the client was told
}

// keep counts one row and reports whether it is forwarded.
func (c *rowCap) keep() bool {
	if c.rows >= c.max {
		c.withheld, c.dropped = true, c.dropped+1
		return false
	}
	c.rows++
	return true
}

// suspended ends an Execute that stopped at its row count (PortalSuspended).
func (c *rowCap) suspended() { c.dropped = 0 }

// complete returns the CommandComplete body to forward for tag body, with
// the rows this Execute withheld taken out of its count, and the notice to
// send first (nil when nothing was withheld or the client was told).
func (c *rowCap) complete(body []byte, role string) ([]byte, []byte) {
	if c.dropped > 0 {
		tag := strings.TrimRight(string(body), "\x00")
		if i := strings.LastIndexByte(tag, ' '); i > 0 {
			if n, err := strconv.Atoi(tag[i+1:]); err == nil && n >= c.dropped {
				body = append([]byte(tag[:i+1]+strconv.Itoa(n-c.dropped)), 0)
			}
		}
		c.dropped = 0
	}
	if !c.withheld || c.noticed {
		return body, nil
	}
	c.noticed = true
	notice := encodeMsg(&pgproto3.NoticeResponse{
		Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: "01000",
		Message: fmt.Sprintf("result limited to %d rows for role %q", c.max, role),
	})
	return body, notice
}

// resultCap returns the rowCap of the result head is relaying, or nil.
func (s *session) resultCap(head *expect) *rowCap {
	if head.lookup || head.swallow {
		return nil
	}
	switch head.typ {
	case 'e':
		return head.rc
	case 'Z':
		if s.capIdx < len(s.simpleCaps) && s.simpleCaps[s.capIdx].max > 0 {
			return &s.simpleCaps[s.capIdx]
		}
	}
	return nil
}

// newRowCap returns the rowCap for a portal of st, or nil when its rows are
// not capped.
func newRowCap(st *stmt) *rowCap {
	if st == nil || st.dec == nil || len(st.dec.Stmts) != 1 || st.dec.Stmts[0].Cap == 0 {
		return nil
	}
	return &rowCap{max: st.dec.Stmts[0].Cap}
}

// clearPortals forgets every portal (their transaction ended) and their caps.
func (s *session) clearPortals() {
	// Clearing walks the map's whole table even when it is empty: most
	// transactions end with no portal left (simple queries, Close).
	if len(s.portals) > 0 {
		clear(s.portals)
	}
	if len(s.portalCaps) > 0 {
		clear(s.portalCaps)
	}
}
