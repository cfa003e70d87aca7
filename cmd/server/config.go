package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// config is the environment of DESIGN.md §7, read once at start.
type config struct {
	DatabaseURL            string
	MongoURL               string
	MongoDB                string
	HTTPAddr               string
	APIKeys                string
	AuthDisabled           bool
	RelayWorkers           int
	RelayBatchSize         int
	RelayMaxRetries        int
	IdempotencyTTL         time.Duration
	OutboxRetention        time.Duration
	ReconcileInterval      time.Duration
	ReconcileGrace         time.Duration
	ReconcileRemoveOrphans bool
	MaxBodyBytes           int64
	MaxInflightBodyBytes   int64
	LogFormat              string
	LogLevel               string
	ShutdownTimeout        time.Duration
	ReportRetention        time.Duration
	RateLimitRPS           float64
	RateLimitBurst         int
}

func loadConfig() (config, error) {
	var errs []error
	e := env{errs: &errs}
	c := config{
		DatabaseURL:            e.str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mailsync?sslmode=disable"),
		MongoURL:               e.str("MONGO_URL", "mongodb://127.0.0.1:27017"),
		MongoDB:                e.str("MONGO_DB", "mailsync"),
		HTTPAddr:               e.str("HTTP_ADDR", ":8080"),
		APIKeys:                e.str("API_KEYS", ""),
		AuthDisabled:           e.boolean("AUTH_DISABLED", false),
		RelayWorkers:           e.integer("RELAY_WORKERS", 4),
		RelayBatchSize:         e.integer("RELAY_BATCH_SIZE", 100),
		RelayMaxRetries:        e.integer("RELAY_MAX_RETRIES", 10),
		IdempotencyTTL:         e.duration("IDEMPOTENCY_TTL", 24*time.Hour),
		OutboxRetention:        e.duration("OUTBOX_RETENTION", 168*time.Hour),
		ReconcileInterval:      e.duration("RECONCILE_INTERVAL", time.Hour),
		ReconcileGrace:         e.duration("RECONCILE_GRACE", 5*time.Minute),
		ReconcileRemoveOrphans: e.boolean("RECONCILE_REMOVE_ORPHANS", false),
		MaxBodyBytes:           int64(e.integer("MAX_BODY_BYTES", 26214400)),
		MaxInflightBodyBytes:   int64(e.integer("MAX_INFLIGHT_BODY_BYTES", 0)),
		LogFormat:              e.str("LOG_FORMAT", "json"),
		LogLevel:               e.str("LOG_LEVEL", "info"),
		ShutdownTimeout:        e.duration("SHUTDOWN_TIMEOUT", 20*time.Second),
		ReportRetention:        e.duration("REPORT_RETENTION", 2160*time.Hour),
		RateLimitRPS:           float64(e.integer("RATE_LIMIT_RPS", 0)),
		RateLimitBurst:         e.integer("RATE_LIMIT_BURST", 0),
	}
	if c.RelayWorkers < 0 || c.RelayBatchSize < 1 || c.RelayMaxRetries < 1 || c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("RELAY_WORKERS must be >= 0, RELAY_BATCH_SIZE and RELAY_MAX_RETRIES >= 1, MAX_BODY_BYTES >= 1024"))
	}
	if c.MaxInflightBodyBytes == 0 {
		c.MaxInflightBodyBytes = 4 * c.MaxBodyBytes
	}
	if c.MaxInflightBodyBytes < c.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("MAX_INFLIGHT_BODY_BYTES must be >= MAX_BODY_BYTES (one body of the largest size must fit)"))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT must be json or text"))
	}
	if len(errs) > 0 {
		return c, errs[0]
	}
	return c, nil
}

type env struct{ errs *[]error }

func (e env) str(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func (e env) integer(name string, def int) int {
	v := e.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		*e.errs = append(*e.errs, fmt.Errorf("%s=%q is not an integer", name, v))
	}
	return n
}

func (e env) boolean(name string, def bool) bool {
	v := e.str(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		*e.errs = append(*e.errs, fmt.Errorf("%s=%q is not true or false", name, v))
	}
	return b
}

func (e env) duration(name string, def time.Duration) time.Duration {
	v := e.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		*e.errs = append(*e.errs, fmt.Errorf("%s=%q is not a duration like 30s or 24h", name, v))
	}
	return d
}
