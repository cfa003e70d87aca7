package chaos

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	apiclient "mailsync/client"
)

// Result is what a chaos run found; the run passed when Problems is empty.
type Result struct {
	Load     LoadCounts
	Stores   StoreCounts
	Recon    apiclient.Reconciliation
	Problems []string
}

// step is one scheduled fault action.
type step struct {
	at   time.Duration
	name string
	do   func() error
}

// Run starts the stack (devmongo; instance A role all, B role api, C role
// relay), runs the load with the plan's faults, drains, checks both stores
// against every acknowledgement, reconciles, prints the timeline and counts
// to out, and returns what it found.
func Run(ctx context.Context, p Plan, out io.Writer) (res Result, err error) {
	tl := NewTimeline(out)
	tl.Printf("chaos %s: load %s; SIGKILL A at %s (down %s); devmongo down at %s for %s; PostgreSQL restart at %s%s",
		p.Name, p.Load, p.KillAt, p.KillDown, p.MongoAt, p.MongoDown, p.PGAt, relayNote(p))
	st, err := StartStack(ctx, tl, "mailsync_chaos", []string{"all", "api", "relay"}, nil, true)
	defer func() { st.Close(err != nil || len(res.Problems) > 0) }()
	if err != nil {
		return res, err
	}
	a, b, c := st.Instances[0], st.Instances[1], st.Instances[2]
	token := clients[0].Token

	load, err := NewLoad(LoadConfig{Targets: st.APIBases(), Clients: clients, Workers: p.Workers, Pace: p.Pace,
		MaxBatch: p.MaxBatch, RequestTimeout: 15 * time.Second, Timeline: tl, RunID: strconv.Itoa(os.Getpid())})
	if err != nil {
		return res, err
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	tl.Printf("load: %d workers against A and B (singles, batches of 2-%d, resends of acknowledged keys, 3 concurrent sends of one key), two API clients",
		p.Workers, p.MaxBatch)
	load.Start(loadCtx)
	loadStart := time.Now()

	steps := []step{
		{p.KillAt, "SIGKILL A", func() error { return kill(tl, a, "A-killed") }},
		{p.KillAt + p.KillDown, "restart A", func() error { return restart(tl, a, "A-killed") }},
		{p.MongoAt, "stop devmongo", func() error {
			tl.SetPhase("mongo-down")
			st.Mongo.Kill()
			tl.Printf("devmongo killed (SIGKILL); down for %s", p.MongoDown)
			return nil
		}},
		{p.MongoAt + p.MongoDown, "start devmongo", func() error {
			if err := st.Mongo.Start(); err != nil {
				return err
			}
			tl.Printf("devmongo started again on %s (pid %d, same data)", st.Mongo.Addr, st.Mongo.Pid())
			endFault(tl, "mongo-down")
			return nil
		}},
		{p.PGAt, "restart PostgreSQL", func() error {
			if os.Getenv("MAILSYNC_CHAOS_PG_RESTART") == "0" {
				res.Problems = append(res.Problems, "PostgreSQL restart skipped (MAILSYNC_CHAOS_PG_RESTART=0): not a full run")
				tl.Printf("PostgreSQL restart SKIPPED (MAILSYNC_CHAOS_PG_RESTART=0)")
				return nil
			}
			tl.SetPhase("pg-restart")
			t0 := time.Now()
			if err := st.Cluster.Restart(ctx); err != nil {
				return err
			}
			tl.Printf("PostgreSQL restarted (the stack's own cluster; pg_ctl restart, fast mode), accepting connections after %s", time.Since(t0).Round(time.Millisecond))
			endFault(tl, "pg-restart")
			return nil
		}},
	}
	if p.KillRelayAt > 0 {
		steps = append(steps,
			step{p.KillRelayAt, "SIGKILL C", func() error { return kill(tl, c, "C-killed") }},
			step{p.KillRelayAt + p.KillDown, "restart C", func() error { return restart(tl, c, "C-killed") }})
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].at < steps[j].at })
	for _, s := range steps {
		if wait := s.at - time.Since(loadStart); wait > 0 {
			time.Sleep(wait)
		}
		if err := s.do(); err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("fault step %q: %v", s.name, err))
			break
		}
	}
	if wait := p.Load - time.Since(loadStart); wait > 0 {
		time.Sleep(wait)
	}
	stopLoad()
	tl.SetPhase("load-stopped")
	tl.Printf("load stopped; operations in progress may retry for up to %s", p.Grace)
	load.Finish(p.Grace)
	lc := load.Counts()
	res.Load = lc
	tl.Printf("load finished: %d keys sent, %d acknowledged, %d HTTP requests", lc.Keys, lc.Acked, lc.Requests)
	res.Problems = append(res.Problems, lc.Violations...)
	if lc.Unacked > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d keys got no 2xx within %s after the load stopped (a hang or an outage that did not end)", lc.Unacked, p.Grace))
	}
	res.Problems = append(res.Problems, st.checkAlive()...)

	final, err := Drain(ctx, a.Base, token, p.DrainTimeout, tl)
	if err != nil {
		res.Problems = append(res.Problems, "drain: "+err.Error())
	} else {
		tl.Printf("drained: emails synced=%d failed=%d; outbox failed=%d", final.Emails.Synced, final.Emails.Failed, final.Outbox.Failed)
	}
	if final.Emails.Failed > 0 || final.Outbox.Failed > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("failed emails: %d, dead outbox messages: %d", final.Emails.Failed, final.Outbox.Failed))
	}

	tl.Printf("checking PostgreSQL and MongoDB against %d acknowledgements", lc.Acked)
	sc, err := CheckStores(ctx, st.DatabaseURL, st.Mongo.URL, st.MongoDB, load.Acks(), load.Sent())
	if err != nil {
		return res, fmt.Errorf("check stores: %w", err)
	}
	res.Stores = sc
	res.Problems = append(res.Problems, sc.Problems...)

	tl.Printf("reconciliation via B (POST /v1/reconciliations)")
	rec, err := Reconcile(ctx, b.Base, token, 2*time.Minute)
	res.Recon = rec
	switch {
	case err != nil:
		res.Problems = append(res.Problems, "reconciliation: "+err.Error())
	case rec.Status != apiclient.ReconciliationStatusCompleted || rec.MismatchesFound != 0:
		res.Problems = append(res.Problems, fmt.Sprintf("reconciliation %d: status %s, %d mismatches %+v", rec.Id, rec.Status, rec.MismatchesFound, rec.Details.Counts))
	default:
		tl.Printf("reconciliation %d completed: %d records checked, %d mismatches", rec.Id, rec.RecordsChecked, rec.MismatchesFound)
	}
	// records_checked counts the PostgreSQL emails plus the MongoDB
	// documents, plus the blobs of each store.
	if int(rec.RecordsChecked) != sc.PGRows+sc.MongoDocs+sc.Blobs+sc.MongoBlobs && err == nil {
		res.Problems = append(res.Problems, fmt.Sprintf("reconciliation checked %d records; the stores hold %d emails and %d documents, "+
			"%d blobs and %d GridFS files", rec.RecordsChecked, sc.PGRows, sc.MongoDocs, sc.Blobs, sc.MongoBlobs))
	}

	res.Problems = append(res.Problems, statusProblems(load)...)
	fmt.Fprintf(out, "\nwhat clients saw, per phase (status or transport error = count):\n%s", load.Outcomes())
	if len(load.out.samples) > 0 {
		fmt.Fprintf(out, "samples of server errors:\n  %s\n", strings.Join(load.out.samples, "\n  "))
	}
	fmt.Fprintf(out, "\ncounts (chaos %s):\n", p.Name)
	printCounts(out, lc, sc)
	fmt.Fprintf(out, "  reconciliation              %d records checked (emails + documents), %d mismatches\n", rec.RecordsChecked, rec.MismatchesFound)
	return res, nil
}

// statusProblems checks what clients were told during faults against the
// contract: only retryable answers (503 with Retry-After while a
// store is down, 409/429 with Retry-After) or transport errors of a dead
// instance — never a 500.
func statusProblems(l *Load) []string {
	var out []string
	bad := map[string]int{}
	l.out.mu.Lock()
	for phase, m := range l.out.byPhase {
		for what, n := range m {
			if strings.HasSuffix(what, "-without-Retry-After") || (len(what) == 3 && what[0] == '5' && what != "503") {
				bad[phase+" "+what] += n
			}
		}
	}
	l.out.mu.Unlock()
	for k, n := range bad {
		out = append(out, fmt.Sprintf("clients were answered %s %d times (the contract says 503 + Retry-After during outages)", k, n))
	}
	sort.Strings(out)
	return out
}

func relayNote(p Plan) string {
	if p.KillRelayAt == 0 {
		return ""
	}
	return fmt.Sprintf("; SIGKILL C at %s", p.KillRelayAt)
}

// kill sends SIGKILL to an instance and starts its phase.
func kill(tl *Timeline, in *Instance, phase string) error {
	tl.SetPhase(phase)
	tl.Printf("SIGKILL %s", in.Describe())
	in.Kill()
	return nil
}

// restart starts a killed instance again and ends its phase.
func restart(tl *Timeline, in *Instance, phase string) error {
	t0 := time.Now()
	if err := in.Start(); err != nil {
		return err
	}
	tl.Printf("restarted %s, ready after %s", in.Describe(), time.Since(t0).Round(time.Millisecond))
	endFault(tl, phase)
	return nil
}

// endFault marks the end of a fault: errors in the next 5 s are attributed to
// the recovery from it, then the phase is steady again (unless another fault
// has started meanwhile).
func endFault(tl *Timeline, fault string) {
	after := "after-" + fault
	tl.SetPhase(after)
	time.AfterFunc(5*time.Second, func() {
		if tl.Phase() == after {
			tl.SetPhase("steady")
		}
	})
}
