package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailsync/internal/db"
	"mailsync/internal/mongostore"
	"mailsync/internal/reconcile"
)

// reconcileCmd is `server reconcile [--dry-run]`: one run now, the report
// printed as JSON on standard output, and an error (exit status 1) when
// drift remains: the run failed, or found mismatches it did not repair.
func reconcileCmd(ctx context.Context, cfg config, args []string) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	dryRun := fs.Bool("dry-run", false, "report mismatches without repairing them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; %s", fs.Args(), usage)
	}
	pool, err := db.Open(ctx, cfg.DatabaseURL, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	mongo, err := mongostore.Connect(ctx, cfg.MongoURL, cfg.MongoDB, 5*time.Second)
	if err != nil {
		return err
	}
	defer mongo.Close(context.WithoutCancel(ctx))

	rec := reconcile.New(pool, mongo, reconcileConfig(cfg, notifyRelays(pool)))
	rep, err := rec.Run(ctx, reconcile.TriggerManual, *dryRun)
	if rep.ID != 0 {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	}
	if err != nil {
		return err
	}
	if rep.DriftRemains() {
		return fmt.Errorf("drift remains: %d mismatches (%s), %d repaired, %d repairs failed",
			rep.MismatchesFound, kindSummary(rep.Details.Counts), rep.AutoRepaired, rep.FailedRepairs)
	}
	return nil
}

// kindSummary lists every kind's count, like "missing_in_mongo 1, …".
func kindSummary(c reconcile.Counts) string {
	by := c.ByKind()
	parts := make([]string, 0, len(by))
	for _, k := range reconcile.KindNames() {
		parts = append(parts, fmt.Sprintf("%s %d", k, by[k]))
	}
	return strings.Join(parts, ", ")
}

// reconcileConfig is the reconciler's configuration from the environment.
func reconcileConfig(cfg config, wake func()) *reconcile.Config {
	return &reconcile.Config{
		Grace: cfg.ReconcileGrace, RemoveOrphans: cfg.ReconcileRemoveOrphans, Interval: cfg.ReconcileInterval,
		MaxRetries: int32(cfg.RelayMaxRetries), Wake: wake,
	}
}

// notifyRelays wakes the relays of the serving instances (a NOTIFY), for a
// process that runs no relay of its own.
func notifyRelays(pool *pgxpool.Pool) func() {
	q := db.New(pool)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := q.NotifyOutbox(ctx); err != nil {
			slog.Debug("notify relays failed", "err", err)
		}
	}
}
