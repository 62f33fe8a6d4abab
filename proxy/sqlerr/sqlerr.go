// Package sqlerr holds tenantproxy's one error type and the one table that maps
// each error kind to its Postgres SQLSTATE and MySQL error number.
//
// Every package may import it (it imports nothing of the project), so an error
// raised in policy, pool or proxy reaches either wire front end with the right
// code. Backend errors are not wrapped in it: they pass through unchanged.
package sqlerr

import (
	"errors"
	"fmt"
)

// Kind names a class of error the proxy itself raises.
type Kind uint8

// Kinds of proxy errors. Keep the table in codes in step with this list.
const (
	Internal           Kind = iota // a bug or unexpected state inside the proxy
	Protocol                       // malformed or out-of-order client message
	UnknownTenant                  // tenant id not configured (or not revealed)
	AuthFailed                     // unknown user or wrong password
	NoTenantChosen                 // the client named no tenant and the user has several
	NoRoleOnTenant                 // user authenticated but holds no role on the tenant
	Permission                     // statement kind or table not allowed for the role
	Privilege                      // administrative statement not allowed (SUPER-like)
	CrossTenant                    // reference to another tenant's schema or database
	Unsupported                    // a feature the proxy refuses to relay
	Syntax                         // statement could not be parsed
	InvalidValue                   // a parameter value the proxy cannot accept
	ActiveTransaction              // operation not allowed inside a transaction
	PoolTimeout                    // no backend connection within the acquire timeout
	TooManyConnections             // per-tenant client connection limit reached
	RateLimited                    // per-tenant statement rate limit reached
	StatementTimeout               // statement cancelled by the tenant's statement_timeout
	Canceled                       // statement cancelled by the client
	Unavailable                    // backend unavailable (breaker open, connect failure)
	ReadOnlyBackend                // write routed nowhere: primary down, replicas only
	ShuttingDown                   // proxy is draining
	LoginLocked                    // too many failed logins of the user name or from the address
	AuthMode                       // the client cannot authenticate this way (e.g. needs a secure connection)
	numKinds
)

// code is one row of the error table.
type code struct {
	name     string
	sqlstate string
	mysql    uint16
	mysqlSQL string // MySQL SQLSTATE
}

// codes is the one table from kind to (SQLSTATE, MySQL errno, MySQL SQLSTATE).
var codes = [numKinds]code{
	Internal:           {"internal", "XX000", 1105, "HY000"},
	Protocol:           {"client_protocol", "08P01", 1047, "08S01"},
	UnknownTenant:      {"unknown_tenant", "3D000", 1049, "42000"},
	AuthFailed:         {"auth", "28P01", 1045, "28000"},
	NoTenantChosen:     {"no_tenant", "3D000", 1046, "3D000"},
	NoRoleOnTenant:     {"no_role", "42501", 1044, "42000"},
	Permission:         {"policy", "42501", 1142, "42000"},
	Privilege:          {"policy", "42501", 1227, "42000"},
	CrossTenant:        {"policy", "42501", 1044, "42000"},
	Unsupported:        {"unsupported", "0A000", 1235, "42000"},
	Syntax:             {"syntax", "42601", 1064, "42000"},
	InvalidValue:       {"invalid_value", "22023", 1231, "42000"},
	ActiveTransaction:  {"active_transaction", "25001", 1179, "25000"},
	PoolTimeout:        {"pool_timeout", "53300", 1040, "08004"},
	TooManyConnections: {"limit", "53300", 1040, "08004"},
	RateLimited:        {"limit", "53400", 1226, "42000"},
	StatementTimeout:   {"timeout", "57014", 3024, "HY000"},
	Canceled:           {"canceled", "57014", 1317, "70100"},
	Unavailable:        {"backend_unavailable", "57P03", 2003, "08S01"},
	ReadOnlyBackend:    {"backend_unavailable", "25006", 1290, "HY000"},
	ShuttingDown:       {"shutdown", "57P01", 1053, "08S01"},
	LoginLocked:        {"auth", "28000", 1129, "HY000"},
	AuthMode:           {"auth", "28000", 1251, "08004"},
}

// Error is an error raised by the proxy, with a kind that fixes its codes.
type Error struct {
	Kind    Kind
	Message string
	Detail  string
	Hint    string
	Err     error // optional cause, never shown to the client
}

// New returns an Error of kind with a formatted message.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error of kind that keeps cause for logs and errors.Is.
func Wrap(kind Kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Err: cause}
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// SQLState is the Postgres SQLSTATE of the error.
func (e *Error) SQLState() string { return codes[e.Kind].sqlstate }

// MySQLCode is the MySQL error number of the error.
func (e *Error) MySQLCode() uint16 { return codes[e.Kind].mysql }

// MySQLState is the SQLSTATE a MySQL client sees with the error number.
func (e *Error) MySQLState() string { return codes[e.Kind].mysqlSQL }

// Category is the short metric label of the error's kind (auth, policy, limit,
// backend_unavailable, timeout, client_protocol, internal, ...).
func (e *Error) Category() string { return codes[e.Kind].name }

// WithHint sets the hint and returns e.
func (e *Error) WithHint(format string, args ...any) *Error {
	e.Hint = fmt.Sprintf(format, args...)
	return e
}

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Is reports whether err carries an Error of kind.
func Is(err error, kind Kind) bool {
	e := As(err)
	return e != nil && e.Kind == kind
}
