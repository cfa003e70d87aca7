package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"mailsync/internal/db"
	"mailsync/internal/handlers"
	"mailsync/internal/ingest"
	"mailsync/internal/tracing"
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
	EmailRetention         time.Duration // 0: emails are kept forever
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
	MaxConnections         int
	MaxConnectionsPerAddr  int           // 0: half of MaxConnections
	HTTPRequestLineTimeout time.Duration // a new connection's first request line
	HTTPReadTimeout        time.Duration
	HTTPIdleTimeout        time.Duration
	DBConnectTimeout       time.Duration
	RequestTimeout         time.Duration
	AuditRetention         time.Duration // 0: audit events are kept forever
	ErasureHMACKey         string        // keys the hash of an erasure's address; "" = random per process
	ErasureMaxAttempts     int
	LMTP                   lmtpSettings   // LMTP_*: the LMTP listener (off without LMTP_ADDR)
	Audit                  auditSettings  // AUDIT_SIGNING_KEY_FILE, AUDIT_CHECKPOINT_INTERVAL
	TrustedAuthservIDs     []string       // Authentication-Results authserv-ids believed
	DKIMVerify             bool           // verify DKIM signatures at ingest
	Tracing                tracing.Config // OTEL_*: off unless an OTLP exporter is configured
}

// loadConfig reads the configuration from the process environment.
func loadConfig() (config, error) { return parseConfig(os.LookupEnv) }

// parseConfig reads every variable through lookup, fills in the defaults and
// validates the result. It reports every bad variable at once (errors.Join),
// each error naming its variable.
func parseConfig(lookup func(string) (string, bool)) (config, error) {
	var errs []error
	e := env{lookup: lookup, errs: &errs}
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
		EmailRetention:         e.duration("EMAIL_RETENTION", 0),
		ReconcileInterval:      e.duration("RECONCILE_INTERVAL", time.Hour),
		ReconcileGrace:         e.duration("RECONCILE_GRACE", 5*time.Minute),
		ReconcileRemoveOrphans: e.boolean("RECONCILE_REMOVE_ORPHANS", false),
		MaxBodyBytes:           int64(e.integer("MAX_BODY_BYTES", 52428800)),
		MaxInflightBodyBytes:   int64(e.integer("MAX_INFLIGHT_BODY_BYTES", 0)),
		LogFormat:              e.str("LOG_FORMAT", "json"),
		LogLevel:               e.str("LOG_LEVEL", "info"),
		ShutdownTimeout:        e.duration("SHUTDOWN_TIMEOUT", 20*time.Second),
		ReportRetention:        e.duration("REPORT_RETENTION", 2160*time.Hour),
		RateLimitRPS:           e.float("RATE_LIMIT_RPS", 0),
		RateLimitBurst:         e.integer("RATE_LIMIT_BURST", 0),
		MaxConnections:         e.integer("MAX_CONNECTIONS", handlers.DefaultMaxConnections),
		MaxConnectionsPerAddr:  e.integer("MAX_CONNECTIONS_PER_ADDRESS", 0),
		HTTPRequestLineTimeout: e.duration("HTTP_REQUEST_LINE_TIMEOUT", handlers.DefaultRequestLineTimeout),
		HTTPReadTimeout:        e.duration("HTTP_READ_TIMEOUT", handlers.DefaultReadTimeout),
		HTTPIdleTimeout:        e.duration("HTTP_IDLE_TIMEOUT", handlers.DefaultIdleTimeout),
		DBConnectTimeout:       e.duration("DB_CONNECT_TIMEOUT", db.DefaultConnectTimeout),
		RequestTimeout:         e.duration("REQUEST_TIMEOUT", handlers.DefaultRequestTimeout),
		AuditRetention:         e.duration("AUDIT_RETENTION", 0),
		ErasureHMACKey:         e.str("ERASURE_HMAC_KEY", ""),
		ErasureMaxAttempts:     e.integer("ERASURE_MAX_ATTEMPTS", 5),
		TrustedAuthservIDs:     splitList(e.str("TRUSTED_AUTHSERV_IDS", "")),
		DKIMVerify:             e.boolean("DKIM_VERIFY", false),
	}
	if c.MaxConnections < 1 || c.HTTPReadTimeout <= 0 || c.HTTPIdleTimeout <= 0 || c.DBConnectTimeout <= 0 || c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("MAX_CONNECTIONS must be >= 1; HTTP_READ_TIMEOUT, HTTP_IDLE_TIMEOUT, DB_CONNECT_TIMEOUT and REQUEST_TIMEOUT > 0"))
	}
	if c.MaxConnectionsPerAddr < 0 || c.MaxConnectionsPerAddr > c.MaxConnections || c.HTTPRequestLineTimeout <= 0 {
		errs = append(errs, fmt.Errorf("MAX_CONNECTIONS_PER_ADDRESS must be 0 (half of MAX_CONNECTIONS) to MAX_CONNECTIONS; HTTP_REQUEST_LINE_TIMEOUT > 0"))
	}
	if c.MaxInflightBodyBytes == 0 {
		c.MaxInflightBodyBytes = handlers.DefaultInflightBodyBytes(c.MaxBodyBytes)
	}
	if c.MaxInflightBodyBytes < c.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("MAX_INFLIGHT_BODY_BYTES=%d must be >= MAX_BODY_BYTES (one body of the largest size must fit)", c.MaxInflightBodyBytes))
	}
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.RelayWorkers >= 0, "RELAY_WORKERS=%d must be 0 or more", c.RelayWorkers)
	check(c.RelayBatchSize >= 1, "RELAY_BATCH_SIZE=%d must be 1 or more", c.RelayBatchSize)
	check(c.RelayMaxRetries >= 1, "RELAY_MAX_RETRIES=%d must be 1 or more", c.RelayMaxRetries)
	check(c.MaxBodyBytes >= 1024, "MAX_BODY_BYTES=%d must be 1024 or more", c.MaxBodyBytes)
	check(c.LogFormat == "json" || c.LogFormat == "text", "LOG_FORMAT=%q must be json or text", c.LogFormat)
	check(new(slog.Level).UnmarshalText([]byte(c.LogLevel)) == nil, "LOG_LEVEL=%q must be debug, info, warn or error", c.LogLevel)
	check(c.RateLimitRPS >= 0, "RATE_LIMIT_RPS=%v must be 0 (off) or more", c.RateLimitRPS)
	check(c.ErasureHMACKey == "" || len(c.ErasureHMACKey) >= 32, "ERASURE_HMAC_KEY must be at least 32 bytes (or empty: a random key per process)")
	check(c.ErasureMaxAttempts >= 1, "ERASURE_MAX_ATTEMPTS=%d must be 1 or more", c.ErasureMaxAttempts)
	check(c.RateLimitBurst >= 0, "RATE_LIMIT_BURST=%d must be 0 or more", c.RateLimitBurst)
	tc, err := tracing.FromEnv(lookup)
	errs = append(errs, err)
	c.Tracing = tc
	c.LMTP = parseLMTP(e)
	c.Audit = parseAudit(e)
	return c, errors.Join(errs...)
}

// authConfig is the sender-authentication configuration shared by the
// HTTP and LMTP paths.
func (c config) authConfig() *ingest.AuthConfig {
	return &ingest.AuthConfig{TrustedAuthservIDs: c.TrustedAuthservIDs, DKIMVerify: c.DKIMVerify}
}

// splitList splits a comma-separated list, dropping blanks around and
// between items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// env reads variables through lookup and collects the errors of bad values.
type env struct {
	lookup func(string) (string, bool)
	errs   *[]error
}

func (e env) str(name, def string) string {
	if v, ok := e.lookup(name); ok && v != "" {
		return v
	}
	return def
}

func (e env) float(name string, def float64) float64 {
	v := e.str(name, "")
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		*e.errs = append(*e.errs, fmt.Errorf("%s=%q is not a number", name, v))
	}
	return f
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
