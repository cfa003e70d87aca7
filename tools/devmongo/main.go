// Command devmongo runs FerretDB v1.24.2, a MongoDB wire-protocol server, for
// development and tests. No MongoDB server can be installed on the machines
// mailsync is developed on, so this embeds FerretDB's Go package and stores
// the documents in PostgreSQL (default) or SQLite.
//
// It prints the MongoDB URI it listens on as the first line of standard
// output (and into -uri-file when given), so callers can ask the kernel for a
// free port with -listen 127.0.0.1:0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "devmongo:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", envOr("DEVMONGO_LISTEN", "127.0.0.1:27017"), "TCP address to listen on (port 0 picks a free port)")
	handler := flag.String("handler", envOr("DEVMONGO_HANDLER", "postgresql"), "storage handler: postgresql or sqlite")
	pgURL := flag.String("postgresql-url", envOr("DEVMONGO_POSTGRESQL_URL", "postgres://postgres@127.0.0.1:5432/mailsync_mongo?sslmode=disable"), "PostgreSQL database holding the documents (created if missing)")
	sqliteURL := flag.String("sqlite-url", envOr("DEVMONGO_SQLITE_URL", "file:data/"), "SQLite directory URL for -handler=sqlite")
	uriFile := flag.String("uri-file", "", "write the MongoDB URI to this file once listening")
	exitWithParent := flag.Bool("exit-with-parent", false, "exit when the parent process exits (for test helpers)")
	logLevel := flag.String("log-level", envOr("DEVMONGO_LOG_LEVEL", "warn"), "log level: debug, info, warn, error, off")
	dropOnExit := flag.Bool("drop-database-on-exit", os.Getenv("DEVMONGO_DROP_ON_EXIT") == "1",
		"drop the -postgresql-url database when exiting (throwaway servers of tests; env DEVMONGO_DROP_ON_EXIT=1)")
	flag.Parse()

	level := slog.Level(1 << 20) // off
	if *logLevel != "off" {
		if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
			return fmt.Errorf("bad -log-level: %w", err)
		}
	}
	logger := slog.New(quietHandler{slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})})

	cfg := &ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: *listen}, Logger: logger, Handler: *handler}
	switch *handler {
	case "postgresql":
		if err := ensureDatabase(*pgURL); err != nil {
			return err
		}
		if *dropOnExit {
			defer func() {
				if err := dropDatabase(*pgURL); err != nil {
					fmt.Fprintln(os.Stderr, "devmongo: drop database on exit:", err)
				}
			}()
		}
		cfg.PostgreSQLURL = *pgURL
	case "sqlite":
		cfg.SQLiteURL = *sqliteURL
	default:
		return fmt.Errorf("unknown -handler %q (want postgresql or sqlite)", *handler)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *exitWithParent {
		ctx = watchParent(ctx)
	}

	f, err := ferretdb.New(cfg)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	uri, err := waitURI(ctx, f)
	if err != nil {
		return err
	}
	fmt.Println(uri)
	if *uriFile != "" {
		if err := os.WriteFile(*uriFile, []byte(uri+"\n"), 0o644); err != nil {
			return err
		}
	}
	return <-done
}

// waitURI returns the listener's URI once the listener has bound its port.
func waitURI(ctx context.Context, f *ferretdb.FerretDB) (uri string, err error) {
	for {
		func() {
			defer func() {
				if recover() != nil {
					uri = ""
				}
			}()
			uri = f.MongoDBURI()
		}()
		if uri != "" {
			return uri, nil
		}
		select {
		case <-ctx.Done():
			return "", errors.New("stopped before listening")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func watchParent(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	parent := os.Getppid()
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for range t.C {
			if os.Getppid() != parent {
				cancel()
				return
			}
		}
	}()
	return ctx
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
