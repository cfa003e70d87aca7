package chaos

import (
	"context"
	"fmt"
	"time"

	apiclient "mailsync/client"
)

// admin returns a mailsync client of base with the suite's admin token.
func admin(base, token string) (*apiclient.Client, error) {
	return apiclient.New(&apiclient.Config{BaseURL: base, Token: token})
}

// SyncStatus reads GET /v1/sync/status (15 s at most, retries included).
func SyncStatus(ctx context.Context, base, token string) (apiclient.SyncStatus, error) {
	c, err := admin(base, token)
	if err != nil {
		return apiclient.SyncStatus{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	s, err := c.SyncStatus(ctx)
	if err != nil {
		return apiclient.SyncStatus{}, err
	}
	return *s, nil
}

// Drain polls GET /v1/sync/status until nothing is left to relay (outbox
// pending and in flight 0, no email pending), up to timeout. It prints the
// backlog every 5 s.
func Drain(ctx context.Context, base, token string, timeout time.Duration, tl *Timeline) (apiclient.SyncStatus, error) {
	deadline := time.Now().Add(timeout)
	var last time.Time
	for {
		s, err := SyncStatus(ctx, base, token)
		if err == nil && s.Outbox.Pending+s.Outbox.InFlight == 0 && s.Emails.Pending == 0 {
			return s, nil
		}
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			if err != nil {
				tl.Printf("drain: sync status unavailable: %v", err)
			} else {
				tl.Printf("drain: outbox pending=%d in_flight=%d failed=%d oldest=%.0fs; emails pending=%d synced=%d failed=%d",
					s.Outbox.Pending, s.Outbox.InFlight, s.Outbox.Failed, s.Outbox.OldestPendingAgeSeconds,
					s.Emails.Pending, s.Emails.Synced, s.Emails.Failed)
			}
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("backlog not drained after %s: outbox pending=%d in_flight=%d, emails pending=%d",
					timeout, s.Outbox.Pending, s.Outbox.InFlight, s.Emails.Pending)
			}
			return s, err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Reconcile starts a reconciliation (POST /v1/reconciliations) and polls its
// report (GET /v1/reconciliations/{id}) until it is no longer running, up to
// timeout.
func Reconcile(ctx context.Context, base, token string, timeout time.Duration) (apiclient.Reconciliation, error) {
	c, err := admin(base, token)
	if err != nil {
		return apiclient.Reconciliation{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dry := false
	rep, err := c.StartReconciliation(ctx, apiclient.ReconciliationRequest{DryRun: &dry})
	if err != nil {
		return apiclient.Reconciliation{}, err
	}
	for rep.Status == apiclient.ReconciliationStatusRunning {
		select {
		case <-ctx.Done():
			return *rep, fmt.Errorf("reconciliation %d still running after %s", rep.Id, timeout)
		case <-time.After(250 * time.Millisecond):
		}
		if rep, err = c.GetReconciliation(ctx, rep.Id); err != nil {
			return apiclient.Reconciliation{}, err
		}
	}
	return *rep, nil
}
