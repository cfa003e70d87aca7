// Command server is mailsync: `server serve` runs the API and the relay,
// `server migrate up|down|version` manages the schema, `server reconcile
// [--dry-run]` runs one reconciliation and prints its report, `server audit`
// verifies and anchors the audit chain, and `server deliver` hands one
// message from an MTA's pipe transport to mailsync.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"mailsync/internal/db"
	"mailsync/internal/handlers"
	"mailsync/internal/tracing"
)

func main() {
	if len(os.Args) < 2 || isHelp(os.Args[1]) {
		writeHelp(os.Stdout)
		os.Exit(0)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if len(os.Args) > 1 && os.Args[1] == "deliver" { // needs none of the server's configuration
		code := deliverCmd(ctx, os.Args[2:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
		stop()
		os.Exit(code)
	}
	err := run(ctx, os.Args[1:])
	stop()
	if errors.Is(err, flag.ErrHelp) { // a subcommand's -h printed its flags
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mailsync:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	setupLogging(cfg)
	if args[0] == "serve" || args[0] == "reconcile" {
		stop, err := startTracing(ctx, cfg)
		if err != nil {
			return err
		}
		defer stop()
	}
	switch args[0] {
	case "serve":
		return serve(ctx, cfg, args[1:])
	case "migrate":
		return migrateCmd(cfg, args[1:])
	case "reconcile": // one reconciliation from the command line
		return reconcileCmd(ctx, cfg, args[1:])
	case "audit": // verify and anchor the audit chain
		return auditCmd(ctx, cfg, args[1:], os.Stdout)
	default:
		return fmt.Errorf("unknown command %q; %s", args[0], usage)
	}
}

func setupLogging(cfg config) {
	slog.SetDefault(slog.New(tracing.LogHandler(handlers.LogHandler(logHandler(os.Stderr, cfg)))))
}

// startTracing starts tracing when the OTEL_* variables configure an
// exporter (tracing.FromEnv); stop flushes the spans still buffered, for at
// most five seconds.
func startTracing(ctx context.Context, cfg config) (stop func(), err error) {
	shutdown, err := tracing.Setup(ctx, cfg.Tracing)
	if err != nil {
		return nil, err
	}
	if cfg.Tracing.On {
		slog.Info("tracing on: spans are exported by OTLP", "protocol", cfg.Tracing.Protocol)
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := shutdown(sctx); err != nil {
			slog.Warn("tracing: spans not flushed at exit", "err", err)
		}
	}, nil
}

// logHandler writes records in LOG_FORMAT at LOG_LEVEL to w. Durations are
// written as Go durations ("13ms"), in JSON too, where slog would write
// nanoseconds.
func logHandler(w io.Writer, cfg config) slog.Handler {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration {
			a.Value = slog.StringValue(a.Value.Duration().String())
		}
		return a
	}}
	if cfg.LogFormat == "text" {
		return slog.NewTextHandler(w, opts)
	}
	return slog.NewJSONHandler(w, opts)
}

func migrateCmd(cfg config, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s", usage)
	}
	m, err := db.NewMigrator(cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer m.Close()
	switch args[0] {
	case "up":
		err = m.Up()
	case "down":
		err = m.Down()
	case "version":
		v, dirty, verr := m.Version()
		if verr == nil {
			fmt.Printf("version %d dirty=%v\n", v, dirty)
		}
		return verr
	default:
		return fmt.Errorf("unknown migrate command %q; %s", args[0], usage)
	}
	if err == nil {
		v, _, _ := m.Version()
		slog.Info("migrated", "version", v)
	}
	return err
}
