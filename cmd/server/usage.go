package main

import (
	"fmt"
	"io"
	"strings"
)

// command is one subcommand of server, as `server help` lists it. A new
// subcommand adds a line to commands and a case to run (or to main, when it
// needs none of the server's configuration); its own -h is its own.
type command struct {
	synopsis string // the arguments after "server"
	summary  string // what it does, in one line
}

// commands are the subcommands, in the order `server help` lists them.
var commands = []command{
	{"serve [--role=all|api|relay]", "run the HTTP API, the relay and the background services"},
	{"migrate up|down|version", "apply, undo one step of, or print the database schema version"},
	{"reconcile [--dry-run]", "compare PostgreSQL with MongoDB once, repair (unless --dry-run), print the report"},
	{"audit verify|checkpoint|keygen", "verify the audit hash chain, sign its head now, or make a signing key (server audit -h)"},
	{"deliver [-f sender] [-t recipient]... [-m mailbox] < message", "hand one message from an MTA's pipe transport to mailsync (server deliver -h)"},
	{"help", "print this list"},
}

// usage is the one-line synopsis that error messages about arguments end with.
var usage = "usage: server " + strings.Join(synopses(), " | ") + "; server help lists them"

func synopses() []string {
	s := make([]string, 0, len(commands))
	for _, c := range commands {
		if c.synopsis != "help" {
			s = append(s, c.synopsis)
		}
	}
	return s
}

// isHelp reports whether a first argument asks for the list of commands.
func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// writeHelp writes the text of `server help`: every command with what it
// does, and where the configuration is described.
func writeHelp(w io.Writer) {
	var b strings.Builder
	b.WriteString("mailsync: stores incoming email in PostgreSQL and relays it to MongoDB.\n\nUsage:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  server %s\n        %s\n", c.synopsis, c.summary)
	}
	b.WriteString("\nserve, migrate and reconcile read their configuration from the environment\n" +
		"(DATABASE_URL, MONGO_URL, API_KEYS, ...: see the README's Configuration table).\n")
	_, _ = io.WriteString(w, b.String())
}
