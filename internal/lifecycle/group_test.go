package lifecycle_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"mailsync/internal/lifecycle"
)

func TestStartTwiceAndStopBeforeStart(t *testing.T) {
	t.Parallel()
	g := lifecycle.NewGroup("svc", "things")
	require.NoError(t, g.Start(context.Background()))
	require.EqualError(t, g.Start(context.Background()), "start svc: already started")
	require.NoError(t, g.Stop(context.Background()))
	require.NoError(t, g.Stop(context.Background()), "idempotent")

	never := lifecycle.NewGroup("svc", "things")
	require.NoError(t, never.Stop(context.Background()))
	require.EqualError(t, never.Start(context.Background()), "start svc: stopped")
	require.False(t, never.Go(func(_, _ context.Context) { t.Error("ran after Stop") }))
	_, _, ok := never.Join(context.Background())
	require.False(t, ok)
}

// A goroutine that sees claim end and finishes its work is waited for; its
// work context stays alive.
func TestStopWaitsForWorkInFlight(t *testing.T) {
	t.Parallel()
	g := lifecycle.NewGroup("svc", "things")
	require.NoError(t, g.Start(context.Background()))
	claimEnded, finish, workErr := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	require.True(t, g.Go(func(claim, work context.Context) {
		<-claim.Done()
		close(claimEnded)
		<-finish
		workErr <- work.Err()
	}))
	stopped := make(chan error, 1)
	go func() { stopped <- g.Stop(context.Background()) }()
	<-claimEnded
	close(finish)
	require.NoError(t, <-stopped)
	require.NoError(t, <-workErr, "the work finished before Stop ended it")
}

// When Stop's ctx ends first, the work context is ended, Stop returns an
// error naming the service, and a later Stop waits for the goroutines.
func TestStopCutsOffWorkAtItsDeadline(t *testing.T) {
	t.Parallel()
	g := lifecycle.NewGroup("svc", "things")
	require.NoError(t, g.Start(context.Background()))
	claimEnded, exited := make(chan struct{}), make(chan struct{})
	require.True(t, g.Go(func(claim, work context.Context) {
		defer close(exited)
		<-claim.Done()
		close(claimEnded)
		<-work.Done()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- g.Stop(ctx) }()
	<-claimEnded
	cancel()
	err := <-stopped
	require.ErrorIs(t, err, context.Canceled)
	require.EqualError(t, err, "stop svc: things cut off: context canceled")
	require.NoError(t, g.Stop(context.Background()))
	<-exited
}

// Joined work counts as in flight before Start, and its context ends when
// Stop cuts it off.
func TestJoin(t *testing.T) {
	t.Parallel()
	g := lifecycle.NewGroup("svc", "things")
	ctx, leave, ok := g.Join(context.Background())
	require.True(t, ok)
	stop, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- g.Stop(stop) }()
	<-g.Claim().Done()
	_, _, ok = g.Join(context.Background())
	require.False(t, ok, "no new work once Stop began")
	require.NoError(t, ctx.Err(), "Stop waits while its ctx lasts")
	cancel()
	<-ctx.Done()
	require.ErrorIs(t, <-stopped, context.Canceled)
	leave()
	require.NoError(t, g.Stop(context.Background()))
}

// Start's ctx ending stops claiming, but does not end the work in flight.
func TestStartContextEndsClaimOnly(t *testing.T) {
	t.Parallel()
	g := lifecycle.NewGroup("svc", "things")
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, g.Start(ctx))
	workErr := make(chan error, 1)
	require.True(t, g.Go(func(claim, work context.Context) {
		<-claim.Done()
		workErr <- work.Err()
	}))
	cancel()
	require.NoError(t, <-workErr)
	require.NoError(t, g.Stop(context.Background()))
}
