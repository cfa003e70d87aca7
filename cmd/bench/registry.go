package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// A section is one part of the benchmark: it measures, prints its figures as
// it goes, and returns its rows of the summary table.
type sectionFunc func(ctx context.Context, o benchOptions, d *database, w *cpuWatch) ([]row, error)

type section struct {
	name string
	run  sectionFunc
}

// registered holds the sections in the order they run by default.
var registered []section

// builtinOrder is the default order of the sections defined in this
// package's core files; sections registered from other files run after
// them, in name order.
var builtinOrder = []string{"ingest", "status", "drain", "latency", "memory"}

// register adds a section. A section in its own file registers itself with
// one line, e.g. func init() { register("blobs", benchBlobs) }, and may
// define its own flags in the same init (prefixed with its name).
func register(name string, run sectionFunc) {
	if slices.ContainsFunc(registered, func(s section) bool { return s.name == name }) {
		panic("bench: section " + name + " registered twice")
	}
	registered = append(registered, section{name, run})
	rank := func(n string) (int, string) {
		if i := slices.Index(builtinOrder, n); i >= 0 {
			return i, ""
		}
		return len(builtinOrder), n
	}
	slices.SortStableFunc(registered, func(a, b section) int {
		ra, na := rank(a.name)
		rb, nb := rank(b.name)
		if ra != rb {
			return ra - rb
		}
		return strings.Compare(na, nb)
	})
}

// sectionNames lists the registered sections, comma-separated, in order.
func sectionNames() string {
	names := make([]string, len(registered))
	for i, s := range registered {
		names[i] = s.name
	}
	return strings.Join(names, ",")
}

// chosenSections returns the registered sections named in list (a
// comma-separated -sections value; "all" or "" is every one), in the
// default order.
func chosenSections(list string) ([]section, error) {
	if list == "" || list == "all" {
		return registered, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if !slices.ContainsFunc(registered, func(s section) bool { return s.name == n }) {
			return nil, fmt.Errorf("unknown section %q (want some of %s)", n, sectionNames())
		}
		want[n] = true
	}
	var out []section
	for _, s := range registered {
		if want[s.name] {
			out = append(out, s)
		}
	}
	return out, nil
}

func init() {
	register("ingest", benchIngest)
	register("status", benchStatus)
	register("drain", benchDrain)
	register("latency", benchLatency)
	register("memory", benchMemory)
}
