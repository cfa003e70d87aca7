package lifecycle_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"mailsync/internal/lifecycle"
)

// Passes run at once (Immediate), on every tick and on every wake-up, each
// under its own timeout; none starts once Stop began.
func TestLoopPasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		wake := make(chan struct{}, 1)
		var at []time.Duration
		loop := &lifecycle.Loop{Name: "test pass", Interval: time.Minute, Timeout: 10 * time.Second, Immediate: true, Wake: wake,
			Pass: func(_, ctx context.Context) error {
				deadline, ok := ctx.Deadline()
				require.True(t, ok)
				require.Equal(t, 10*time.Second, time.Until(deadline))
				at = append(at, time.Since(start))
				return nil
			}}
		g := lifecycle.NewGroup("svc", "passes")
		require.NoError(t, g.Start(context.Background()))
		g.Go(loop.Run)
		synctest.Wait()
		require.Equal(t, []time.Duration{0}, at)
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Equal(t, []time.Duration{0, time.Minute}, at)
		time.Sleep(time.Second)
		wake <- struct{}{}
		synctest.Wait()
		require.Equal(t, []time.Duration{0, time.Minute, time.Minute + time.Second}, at)
		require.NoError(t, g.Stop(context.Background()))
		time.Sleep(time.Hour)
		require.Len(t, at, 3)
	})
}

// A pass in flight when Stop begins is finished (its ctx alive) and the
// loop then returns; at Stop's deadline it is cut off instead.
func TestLoopPassInFlightAtStop(t *testing.T) {
	for _, cut := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			passErr := make(chan error, 1)
			loop := &lifecycle.Loop{Name: "test pass", Interval: time.Minute, Immediate: true,
				Pass: func(claim, ctx context.Context) error {
					<-claim.Done()
					select {
					case <-ctx.Done():
					case <-time.After(time.Second): // the rest of the pass
					}
					passErr <- ctx.Err()
					return ctx.Err()
				}}
			g := lifecycle.NewGroup("svc", "passes")
			require.NoError(t, g.Start(context.Background()))
			g.Go(loop.Run)
			synctest.Wait() // the pass is in flight
			stop := context.Background()
			if cut {
				var cancel context.CancelFunc
				stop, cancel = context.WithTimeout(stop, 100*time.Millisecond)
				defer cancel()
			}
			err := g.Stop(stop)
			if cut {
				require.ErrorIs(t, err, context.DeadlineExceeded)
				require.ErrorIs(t, <-passErr, context.Canceled)
				return
			}
			require.NoError(t, err)
			require.NoError(t, <-passErr)
		})
	}
}
