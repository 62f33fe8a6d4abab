package pg

import (
	"net"

	"github.com/tenantproxy/tenantproxy/proxy/sqlerr"
)

// Refuse tells a client the proxy will not serve its connection, with a
// FATAL ErrorResponse as Postgres sends "too many clients" (libpq reports it
// whether it sent its StartupMessage or an SSLRequest first). It is the
// front end's proxy.RefuseFunc.
func Refuse(nc net.Conn, err *sqlerr.Error) {
	msg := errorResponse(err, "FATAL")
	buf, encErr := msg.Encode(nil)
	if encErr != nil {
		return
	}
	_, _ = nc.Write(buf)
}
