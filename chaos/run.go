package chaos

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"mailsync/internal/db/dbtest"
)

// Plan is one chaos run: how long the load lasts, how hard it pushes, and
// when each fault strikes (offsets from the start of the load).
type Plan struct {
	Name         string
	Load         time.Duration
	Workers      int
	Pace         time.Duration
	MaxBatch     int
	KillAt       time.Duration // SIGKILL instance A (role all)...
	KillDown     time.Duration // ...and start it again this much later
	MongoAt      time.Duration // stop devmongo...
	MongoDown    time.Duration // ...for this long
	PGAt         time.Duration // restart PostgreSQL
	KillRelayAt  time.Duration // SIGKILL instance C (role relay) and restart it; 0 = not
	Grace        time.Duration // how long operations in progress may retry after the load stops
	DrainTimeout time.Duration
}

// PlanFor returns the plan of mode short (make test) or full (make chaos).
func PlanFor(mode string) (Plan, error) {
	switch mode {
	case "short":
		return Plan{Name: "short", Load: 30 * time.Second, Workers: 4, Pace: 20 * time.Millisecond, MaxBatch: 10,
			KillAt: 4 * time.Second, KillDown: 2 * time.Second, MongoAt: 10 * time.Second, MongoDown: 5 * time.Second,
			PGAt: 21 * time.Second, Grace: 60 * time.Second, DrainTimeout: 120 * time.Second}, nil
	case "full":
		return Plan{Name: "full", Load: 100 * time.Second, Workers: 6, Pace: 20 * time.Millisecond, MaxBatch: 20,
			KillAt: 8 * time.Second, KillDown: 3 * time.Second, MongoAt: 20 * time.Second, MongoDown: 20 * time.Second,
			PGAt: 55 * time.Second, KillRelayAt: 72 * time.Second, Grace: 90 * time.Second, DrainTimeout: 180 * time.Second}, nil
	}
	return Plan{}, fmt.Errorf("unknown chaos mode %q (want short or full)", mode)
}

// Token is the suite's API token prefix; each client's token adds its name.
const tokenPrefix = "chaos-token-0123456789-"

// clients are the suite's API clients: two, sending overlapping key names,
// so the per-client scope of idempotency keys is exercised too.
var clients = []Client{{Name: "mailproc-a", Token: tokenPrefix + "a"}, {Name: "mailproc-b", Token: tokenPrefix + "b"}}

func apiKeys() string {
	parts := make([]string, len(clients))
	for i, c := range clients {
		parts[i] = c.Name + ":" + c.Token + ":ingest+read+admin"
	}
	return strings.Join(parts, ",")
}

// Stack is the suite's processes and databases.
type Stack struct {
	Dir, ServerBin, DBName, DatabaseURL, MongoDB string
	// PG is the server holding the databases: the stack's own Cluster, or
	// the machine's (MachinePG) when Cluster is nil.
	PG        PGServer
	Cluster   *dbtest.Cluster
	Mongo     *Devmongo
	Instances []*Instance
	tl        *Timeline
}

// StartStack builds the server, creates the databases, and starts devmongo
// and the instances of roles (named A, B, C...). With ownPG the databases
// live in a throwaway PostgreSQL cluster of the stack's (one the suite may
// restart); otherwise in the machine's. Close undoes everything.
func StartStack(ctx context.Context, tl *Timeline, prefix string, roles []string, extraEnv []string, ownPG bool) (*Stack, error) {
	s := &Stack{tl: tl, MongoDB: "mailsync_chaos", PG: MachinePG}
	var err error
	if s.Dir, err = os.MkdirTemp("", prefix+"-"); err != nil {
		return s, err
	}
	if ownPG {
		if s.Cluster, err = dbtest.NewCluster(ctx); err != nil {
			return s, err
		}
		s.PG = PGServer(strings.TrimSuffix(s.Cluster.URL(""), "/?sslmode=disable"))
		tl.Printf("throwaway PostgreSQL cluster on port %d (data and log in %s)", s.Cluster.Port, s.Cluster.Dir)
	}
	pid := os.Getpid()
	s.DBName = fmt.Sprintf("%s_%d", prefix, pid)
	s.DatabaseURL = s.PG.DatabaseURL(s.DBName)
	if err := s.PG.Wait(ctx, 30*time.Second); err != nil {
		return s, err
	}
	if !ownPG {
		s.PG.DropStale(ctx, prefix)
	}
	tl.Printf("building cmd/server")
	if s.ServerBin, err = BuildServer(ctx, s.Dir); err != nil {
		return s, err
	}
	if err := s.PG.CreateDatabase(ctx, s.DBName); err != nil {
		return s, err
	}
	if err := Migrate(ctx, s.ServerBin, s.DatabaseURL); err != nil {
		return s, err
	}
	bin, err := DevmongoBinary()
	if err != nil {
		return s, err
	}
	if s.Mongo, err = NewDevmongo(bin, s.Dir, s.PG, fmt.Sprintf("%s_mongo_%d", prefix, pid)); err != nil {
		return s, err
	}
	if err := s.Mongo.Start(); err != nil {
		return s, err
	}
	tl.Printf("devmongo (FerretDB) at %s, pid %d, data in PostgreSQL database %s", s.Mongo.URL, s.Mongo.Pid(), s.Mongo.PGDB)
	env := append([]string{"DATABASE_URL=" + s.DatabaseURL, "MONGO_URL=" + s.Mongo.URL, "MONGO_DB=" + s.MongoDB,
		"API_KEYS=" + apiKeys(), "RECONCILE_INTERVAL=0", "LOG_FORMAT=json", "LOG_LEVEL=info",
		"SHUTDOWN_TIMEOUT=5s", "RELAY_WORKERS=3", "AUTH_DISABLED=", "RATE_LIMIT_RPS=0"}, extraEnv...)
	for i, role := range roles {
		in, err := NewInstance(string(rune('A'+i)), role, s.ServerBin, s.Dir, env)
		if err != nil {
			return s, err
		}
		if err := in.Start(); err != nil {
			return s, err
		}
		s.Instances = append(s.Instances, in)
		tl.Printf("started instance %s", in.Describe())
	}
	return s, nil
}

// APIBases are the base URLs of the instances serving HTTP.
func (s *Stack) APIBases() []string {
	var out []string
	for _, in := range s.Instances {
		if in.Base != "" {
			out = append(out, in.Base)
		}
	}
	return out
}

// Close stops the processes and drops the databases; the directory with the
// logs is removed only when keepLogs is false.
func (s *Stack) Close(keepLogs bool) {
	for _, in := range s.Instances {
		in.Stop(10 * time.Second)
	}
	if s.Mongo != nil {
		s.Mongo.Stop(10 * time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if s.Cluster != nil {
		if keepLogs {
			_ = copyFile(s.Cluster.LogPath(), s.Dir+"/postgres.log")
		}
		s.Cluster.Remove()
	} else {
		if s.DBName != "" {
			_ = s.PG.DropDatabase(ctx, s.DBName)
		}
		if s.Mongo != nil {
			_ = s.PG.DropDatabase(ctx, s.Mongo.PGDB)
		}
	}
	if keepLogs {
		_ = os.Remove(s.ServerBin)
		s.tl.Printf("logs kept in %s", s.Dir)
	} else if s.Dir != "" {
		_ = os.RemoveAll(s.Dir)
	}
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// checkAlive reports instances that exited on their own.
func (s *Stack) checkAlive() []string {
	var out []string
	for _, in := range s.Instances {
		if !in.Running() {
			out = append(out, fmt.Sprintf("instance %s (role %s) exited on its own:\n%s", in.Name, in.Role, in.LogTail(15)))
		}
	}
	return out
}

// printCounts writes the figures of a run.
func printCounts(w io.Writer, lc LoadCounts, sc StoreCounts) {
	fmt.Fprintf(w, "  keys sent (distinct)        %d\n", lc.Keys)
	fmt.Fprintf(w, "  HTTP requests               %d (%d retries; %d single and %d batch operations)\n", lc.Requests, lc.Retries, lc.Singles, lc.Batches)
	fmt.Fprintf(w, "  acknowledged (2xx)          %d\n", lc.Acked)
	fmt.Fprintf(w, "  never acknowledged          %d (stored anyway: %d)\n", lc.Unacked, sc.StoredUnacked)
	fmt.Fprintf(w, "  duplicates sent on purpose  %d (answered %d, replayed %d); replays in all %d\n", lc.DupSends, lc.DupAnswered, lc.DupRep, lc.Replayed)
	fmt.Fprintf(w, "  slowest acknowledgement     %s (first send to 2xx, retries included)\n", lc.SlowestAck.Round(time.Millisecond))
	fmt.Fprintf(w, "  stored in PostgreSQL        %d\n", sc.PGRows)
	fmt.Fprintf(w, "  documents in MongoDB        %d\n", sc.MongoDocs)
	fmt.Fprintf(w, "  blobs (PostgreSQL, GridFS)  %d, %d (every referenced blob read back and hashed)\n", sc.Blobs, sc.MongoBlobs)
	fmt.Fprintf(w, "  failed                      %d\n", sc.Failed)
	fmt.Fprintf(w, "  hash mismatches             %d\n", sc.HashMismatch)
	fmt.Fprintf(w, "  lost                        %d\n", sc.Lost)
	fmt.Fprintf(w, "  doubled                     %d\n", sc.Doubled)
}
