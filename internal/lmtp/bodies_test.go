package lmtp

import (
	"context"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"mailsync/internal/ingest"
)

// TestDeliveryWaitsForRoomInTheBodyBound fills the bound on bodies in
// memory that LMTP shares with the HTTP API (as an HTTP request would):
// a delivery waits with its data unread, and is stored once the room is
// given back.
func TestDeliveryWaitsForRoomInTheBodyBound(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	bodies := ingest.NewBodies(1<<20, reg)
	r := start(t, Config{Bodies: bodies, Timeout: time.Minute}, false)
	release, err := bodies.Acquire(context.Background(), 1<<20)
	require.NoError(t, err)

	answers := make(chan map[string]any, 1)
	go func() { answers <- send(t, r.dial(t), "alice@example.com", []string{"a@example.org"}, message("wait")) }()
	require.Eventually(t, func() bool {
		return gaugeValue(t, reg, "mailsync_inflight_body_waiting") == 1
	}, 10*time.Second, 10*time.Millisecond, "the delivery to wait for room")
	require.Empty(t, r.emails(t))

	release()
	for _, a := range <-answers {
		requireStored(t, a, false)
	}
	require.Len(t, r.emails(t), 1)
	require.Zero(t, gaugeValue(t, reg, "mailsync_http_inflight_body_bytes"))
}

// TestDeliveryWithoutRoomGets451 keeps the bound full past the listener's
// wait: every recipient gets 451 4.3.1 (the MTA tries again), nothing
// is stored, and the session goes on: the next delivery, with room, is
// stored.
func TestDeliveryWithoutRoomGets451(t *testing.T) {
	t.Parallel()
	bodies := ingest.NewBodies(1<<20, nil)
	r := start(t, Config{Bodies: bodies, Timeout: time.Minute, BodyWait: 100 * time.Millisecond}, false)
	release, err := bodies.Acquire(context.Background(), 1<<20)
	require.NoError(t, err)
	c := r.dial(t)
	for _, a := range send(t, c, "alice@example.com", []string{"a@example.org", "b@example.org"}, message("busy")) {
		e := requireCode(t, a, 451, smtp.EnhancedCode{4, 3, 1})
		require.Contains(t, e.Message, "try again later")
	}
	require.Empty(t, r.emails(t))
	release()
	for _, a := range send(t, c, "alice@example.com", []string{"a@example.org"}, message("busy")) {
		requireStored(t, a, false)
	}
}

// gaugeValue is the value of gauge name in reg.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}
