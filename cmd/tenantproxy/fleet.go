package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/tenantproxy/tenantproxy/configs"
	"github.com/tenantproxy/tenantproxy/proxy"
)

// startFleet joins the fleet on redis.addr (config key fleet). A Redis that
// cannot be reached at start does not stop the proxy: it runs on local
// limits until Redis answers.
func startFleet(cfg *configs.Config, p *proxy.Server, reg prometheus.Registerer, log *slog.Logger) (*proxy.Fleet, error) {
	rc := redis.NewClient(&redis.Options{
		Addr: cfg.File.Redis.Addr, Password: cfg.File.Redis.Password, DB: cfg.File.Redis.DB,
		DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
		MaxRetries: -1,
	})
	f, err := proxy.NewFleet(cfg.File.Fleet, rc, p, version, configHash(cfg), reg, log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := f.Start(ctx); err != nil {
		return nil, err
	}
	log.Info("fleet_joined", "member", f.ID(), "redis", f.Up())
	return f, nil
}

// configHash identifies the configuration, so that members running
// different configs are flagged. What differs between members by design
// (their own listen and peer addresses) is left out.
func configHash(cfg *configs.Config) string {
	f := cfg.File
	f.Listen = configs.Listen{}
	f.Fleet.PeerListen, f.Fleet.PeerAdvertise = "", ""
	raw, err := json.Marshal(f)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8])
}
