package mysql

import (
	"bufio"
	"net"

	"github.com/tenantproxy/tenantproxy/pool"
	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Refuse tells a client the proxy will not serve its connection with an
// ERR packet in place of the handshake, as a MySQL server does past
// max_connections (1040). It is the front end's proxy.RefuseFunc.
func Refuse(nc net.Conn, err *sqlerr.Error) {
	w := bufio.NewWriter(nc)
	if pool.WriteMySQLPacket(w, 0, errPacket(err)) == nil {
		_ = w.Flush()
	}
}
