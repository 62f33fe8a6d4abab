package mysql

// Design notes (the package comment is in server.go).
//
// Authentication. The greeting offers caching_sha2_password (the MySQL 8
// default). A client answering with mysql_native_password is verified with
// that plugin (no switch round trip); any other plugin is switched to
// caching_sha2_password. caching_sha2_password follows MySQL: the first
// login of a user since the proxy started (or since the password changed)
// is a full authentication, the password travelling over TLS or RSA-OAEP
// encrypted with the proxy's key (the TLS certificate's RSA key, else one
// generated at start, sent to clients that ask for it); later logins take
// the fast path (scramble check). mysql_clear_password is accepted over TLS
// only: that is where a JWT will be accepted as the password. MySQL's
// scrambles can only be checked against the clear-text password, so users
// need `password:` in clear text in the config; a user with only a
// SCRAM-SHA-256 verifier is refused with 1045 and a message saying so.
//
// Tenant. The schema of the handshake is the tenant id (none: the user's
// only MySQL tenant). USE and COM_INIT_DB switch tenant outside a
// transaction. SHOW DATABASES and SELECT @@tenant are answered by the
// proxy; column definitions, SHOW TABLES' column name and error messages
// show the tenant id instead of the backend database; results of metadata
// queries (information_schema, SHOW, DATABASE()) are rewritten the same way
// and rows naming any other database are dropped; a metadata query naming
// another tenant's backend database is refused with 1044.
//
// Pooling and session state (transaction mode):
//   - the backend goes back to the pool when SERVER_STATUS_IN_TRANS is clear
//     in the last OK/EOF, unless the session is pinned, a cursor or
//     long data is pending, or the last result had warnings (then it is kept
//     for one more command, so SHOW WARNINGS sees them);
//   - replayed: SET [SESSION] system variables (autocommit, sql_mode, time_zone,
//     ...), SET NAMES and the handshake collation. A backend whose replayed
//     state differs is reset with COM_RESET_CONNECTION first;
//   - re-prepared: protocol prepared statements. Client statement ids map to
//     a statement per backend connection, keyed by the checked SQL text, and
//     prepared on whichever backend serves the EXECUTE; every EXECUTE is sent
//     with its parameter types;
//   - pinned (the session keeps its backend until it ends): user variables,
//     SQL PREPARE, temporary tables, GET_LOCK, LOCK TABLES, SET TRANSACTION
//     (next transaction only), SET inside a transaction;
//   - when a client leaves, a backend mid-command is discarded; one in a
//     transaction, pinned, or from a session-mode pool is reset with
//     COM_RESET_CONNECTION (which rolls back) before it is pooled again.
//
// KILL [QUERY|CONNECTION] n takes the proxy's connection ids (the handshake's,
// and CONNECTION_ID() is answered with it), only of the same user on the
// same tenant; KILL QUERY becomes KILL QUERY <backend thread id> on a new
// backend connection.
