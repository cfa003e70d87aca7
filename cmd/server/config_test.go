package main

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func envOf(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := parseConfig(envOf(nil))
	require.NoError(t, err)
	require.Equal(t, "postgres://postgres@127.0.0.1:5432/mailsync?sslmode=disable", c.DatabaseURL)
	require.Equal(t, "mongodb://127.0.0.1:27017", c.MongoURL)
	require.Equal(t, "mailsync", c.MongoDB)
	require.Equal(t, 4, c.RelayWorkers)
	require.Equal(t, 100, c.RelayBatchSize)
	require.Equal(t, 10, c.RelayMaxRetries)
	require.Equal(t, 24*time.Hour, c.IdempotencyTTL)
	require.Equal(t, 168*time.Hour, c.OutboxRetention)
	require.Equal(t, time.Hour, c.ReconcileInterval)
	require.Equal(t, 5*time.Minute, c.ReconcileGrace)
	require.False(t, c.ReconcileRemoveOrphans)
	require.EqualValues(t, 52428800, c.MaxBodyBytes)
	require.Equal(t, "json", c.LogFormat)
	require.Equal(t, "info", c.LogLevel)
	require.Equal(t, 20*time.Second, c.ShutdownTimeout)
	require.Equal(t, 2160*time.Hour, c.ReportRetention)
	require.Zero(t, c.RateLimitRPS)
	require.False(t, c.AuthDisabled)
}

func TestConfigValues(t *testing.T) {
	c, err := parseConfig(envOf(map[string]string{
		"RELAY_WORKERS": "0", "RATE_LIMIT_RPS": "2.5", "RATE_LIMIT_BURST": "5", "LOG_LEVEL": "debug",
		"AUTH_DISABLED": "true", "IDEMPOTENCY_TTL": "90m", "MAX_BODY_BYTES": "2048", "LOG_FORMAT": "text",
	}))
	require.NoError(t, err)
	require.Equal(t, 0, c.RelayWorkers)
	require.Equal(t, 2.5, c.RateLimitRPS, "a fractional rate is kept")
	require.Equal(t, 5, c.RateLimitBurst)
	require.Equal(t, "debug", c.LogLevel)
	require.True(t, c.AuthDisabled)
	require.Equal(t, 90*time.Minute, c.IdempotencyTTL)
	require.EqualValues(t, 2048, c.MaxBodyBytes)
}

func TestConfigReportsEveryBadVariable(t *testing.T) {
	bad := map[string]string{
		"RELAY_WORKERS":            "-1",
		"RELAY_BATCH_SIZE":         "0",
		"RELAY_MAX_RETRIES":        "x",
		"IDEMPOTENCY_TTL":          "forever",
		"OUTBOX_RETENTION":         "-5m",
		"RECONCILE_INTERVAL":       "1",
		"RECONCILE_REMOVE_ORPHANS": "maybe",
		"MAX_BODY_BYTES":           "10",
		"LOG_FORMAT":               "xml",
		"LOG_LEVEL":                "loud",
		"RATE_LIMIT_RPS":           "fast",
		"RATE_LIMIT_BURST":         "-2",
		"AUTH_DISABLED":            "yes please",
		"SHUTDOWN_TIMEOUT":         "soon",
	}
	_, err := parseConfig(envOf(bad))
	require.Error(t, err)
	for name := range bad {
		require.Contains(t, err.Error(), name+"=", "every bad variable is named")
	}
}

// configNames returns every variable parseConfig reads.
func configNames(t *testing.T) []string {
	seen := map[string]bool{}
	_, err := parseConfig(func(name string) (string, bool) { seen[name] = true; return "", false })
	require.NoError(t, err)
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func TestReadmeConfigTableMatchesConfig(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	section := string(readme)
	start := strings.Index(section, "## Configuration")
	require.GreaterOrEqual(t, start, 0, "README has a Configuration section")
	section = section[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	documented := map[string]bool{}
	row := regexp.MustCompile("(?m)^\\| ([^|]+)\\|")
	name := regexp.MustCompile("`([A-Z][A-Z0-9_]+)`")
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		for _, n := range name.FindAllStringSubmatch(m[1], -1) {
			documented[n[1]] = true
		}
	}
	read := configNames(t)
	for _, n := range read {
		require.True(t, documented[n], "README's config table lacks %s", n)
	}
	for n := range documented {
		require.Contains(t, read, n, "README's config table documents %s, which the server does not read", n)
	}
}
