package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"mailsync/internal/api"
)

// apiCall sends one request with the suite's admin token and decodes a 2xx
// JSON answer into out. It returns the status and the Location header.
func apiCall(ctx context.Context, method, url, token string, body, out any) (int, string, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, "", err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, "", fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, "", fmt.Errorf("%s %s: %w", method, url, err)
		}
	}
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// SyncStatus reads GET /v1/sync/status.
func SyncStatus(ctx context.Context, base, token string) (api.SyncStatus, error) {
	var s api.SyncStatus
	_, _, err := apiCall(ctx, http.MethodGet, base+"/v1/sync/status", token, nil, &s)
	return s, err
}

// Drain polls GET /v1/sync/status until nothing is left to relay (outbox
// pending and in flight 0, no email pending), up to timeout. It prints the
// backlog every 5 s.
func Drain(ctx context.Context, base, token string, timeout time.Duration, tl *Timeline) (api.SyncStatus, error) {
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
func Reconcile(ctx context.Context, base, token string, timeout time.Duration) (api.Reconciliation, error) {
	var rep api.Reconciliation
	dry := false
	status, loc, err := apiCall(ctx, http.MethodPost, base+"/v1/reconciliations", token, api.ReconciliationRequest{DryRun: &dry}, &rep)
	if err != nil {
		return rep, err
	}
	if status != http.StatusAccepted || loc == "" {
		return rep, fmt.Errorf("POST /v1/reconciliations answered %d with Location %q", status, loc)
	}
	deadline := time.Now().Add(timeout)
	for rep.Status == api.ReconciliationStatusRunning {
		if time.Now().After(deadline) {
			return rep, fmt.Errorf("reconciliation %d still running after %s", rep.Id, timeout)
		}
		time.Sleep(250 * time.Millisecond)
		if _, _, err := apiCall(ctx, http.MethodGet, base+loc, token, nil, &rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}
