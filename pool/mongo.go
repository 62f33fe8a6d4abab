package pool

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

// MongoConn is one connection to a MongoDB tenant's server: a driver
// client held to a single socket (MaxPoolSize 1), so that this package's
// pool, not the driver's, decides how many connections a tenant has open,
// and its breaker, health checks and statistics cover MongoDB tenants as
// they cover the SQL engines.
type MongoConn struct {
	Client *mongo.Client
	DB     *mongo.Database
}

// Close disconnects the client.
func (c *MongoConn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Client.Disconnect(ctx)
}

// MongoDatabase returns the database a mongodb:// DSN names; a DSN without
// one is refused (a tenant owns one database).
func MongoDatabase(dsn string) (string, error) {
	cs, err := connstring.ParseAndValidate(dsn)
	if err != nil {
		return "", fmt.Errorf("cannot parse the MongoDB DSN: %v", err)
	}
	if cs.Database == "" {
		return "", fmt.Errorf("the MongoDB DSN names no database (mongodb://host:port/<database>)")
	}
	return cs.Database, nil
}

// DialMongo returns a Dialer for dsn whose connections use database db.
func DialMongo(dsn, db string) Dialer[*MongoConn] {
	return func(ctx context.Context) (*MongoConn, error) {
		opts := options.Client().ApplyURI(dsn).
			SetMaxPoolSize(1).SetMinPoolSize(0).
			SetAppName("tenantproxy").
			// The pool's own health checks and pre-ping watch the server;
			// the driver's monitor only needs to notice a restart.
			SetHeartbeatInterval(30 * time.Second).
			// A server that cannot be reached fails the request soon: the
			// breaker, not the driver's waiting, handles an outage.
			SetServerSelectionTimeout(2 * time.Second).
			SetRetryWrites(false) // a write is tried once: the caller sees its outcome
		if dl, ok := ctx.Deadline(); ok {
			if d := time.Until(dl); d > 0 {
				opts.SetConnectTimeout(d)
			}
		}
		c, err := mongo.Connect(opts)
		if err != nil {
			return nil, err
		}
		if err := c.Ping(ctx, readpref.Primary()); err != nil {
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = c.Disconnect(dctx)
			cancel()
			return nil, err
		}
		return &MongoConn{Client: c, DB: c.Database(db)}, nil
	}
}

// PingMongo checks a connection.
func PingMongo(ctx context.Context, c *MongoConn) error {
	return c.Client.Ping(ctx, readpref.Primary())
}
