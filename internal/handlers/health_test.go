package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"mailsync/internal/db/dbtest"
	"mailsync/internal/handlers"
	"mailsync/internal/mongostore"
	"mailsync/internal/mongostore/mongotest"
	"mailsync/internal/testwait"
)

// TestReadyzFollowsMongoDB: /readyz is 200 while both stores answer, 503
// naming MongoDB while it is down, and 200 again once it is back.
func TestReadyzFollowsMongoDB(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	srv := mongotest.StartServer(t)
	mongo, err := mongostore.Connect(context.Background(), srv.URL, "readyz", 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = mongo.Close(context.Background()) })
	reg := prometheus.NewRegistry()
	router, err := handlers.Router(handlers.New(&handlers.Config{Pool: pool, Mongo: mongo}),
		handlers.RouterConfig{MaxBodyBytes: 1 << 20, Gatherer: reg, Registerer: reg})
	require.NoError(t, err)
	web := httptest.NewServer(router)
	t.Cleanup(web.Close)
	e := &env{t: t, url: web.URL, pool: pool}

	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/readyz", "", nil).status)
	srv.Stop()
	down := e.do(http.MethodGet, "/readyz", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, down.status)
	require.Equal(t, "unreachable", down.json(t)["checks"].(map[string]any)["mongodb"])
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/healthz", "", nil).status, "the process is still alive")
	require.NoError(t, srv.Start())
	testwait.Until(t, 30*time.Second, "/readyz to recover after MongoDB came back", func() bool {
		return e.do(http.MethodGet, "/readyz", "", nil).status == http.StatusOK
	})
}
