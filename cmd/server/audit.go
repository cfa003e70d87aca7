package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"mailsync/internal/audit"
	"mailsync/internal/db"
)

// auditHelp is the text of `server audit -h`.
const auditHelp = `usage: server audit <command> [flags]

The audit trail is a hash chain; these commands check and anchor it.

commands:
  verify [--from-checkpoint FILE]... [--key FILE]
        recompute the chain from DATABASE_URL and check every stored
        checkpoint (and each FILE, a checkpoint note kept elsewhere).
        Exit status 0 when intact; 1 naming the first event that was
        changed, inserted or deleted. --key names a file of verifier keys
        (one a line); without it the key of AUDIT_SIGNING_KEY_FILE is used.
  checkpoint
        sign the chain's head now with AUDIT_SIGNING_KEY_FILE, store the
        checkpoint and print its note.
  keygen [--name NAME] --out FILE
        write a new Ed25519 signing key to FILE (mode 0600, never
        overwritten) for AUDIT_SIGNING_KEY_FILE, and print its verifier key.
`

// auditCmd is `server audit`. Output goes to out; an error is exit 1.
func auditCmd(ctx context.Context, cfg config, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			return fmt.Errorf("audit needs a command\n%s", auditHelp)
		}
		_, _ = io.WriteString(out, auditHelp)
		return nil
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { _, _ = io.WriteString(out, auditHelp) }
	var err error
	switch args[0] {
	case "verify":
		var external multiFlag
		fs.Var(&external, "from-checkpoint", "a checkpoint note kept off the database host (repeatable)")
		keyFile := fs.String("key", "", "a file of verifier keys, one a line")
		if err = parseFlags(fs, args[1:]); err == nil {
			err = auditVerify(ctx, cfg, external, *keyFile, out)
		}
	case "checkpoint":
		if err = parseFlags(fs, args[1:]); err == nil {
			err = auditCheckpoint(ctx, cfg, out)
		}
	case "keygen":
		name := fs.String("name", audit.DefaultKeyName, "the key's name, written into every signature")
		file := fs.String("out", "", "the file to write the signing key to")
		if err = parseFlags(fs, args[1:]); err == nil {
			err = auditKeygen(*name, *file, out)
		}
	default:
		return fmt.Errorf("unknown audit command %q\n%s", args[0], auditHelp)
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// parseFlags parses args and refuses arguments that are not flags.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; see server audit -h", fs.Args())
	}
	return nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func auditVerify(ctx context.Context, cfg config, external []string, keyFile string, out io.Writer) error {
	o := audit.VerifyOptions{}
	var err error
	if o.Verifiers, err = verifiers(cfg, keyFile); err != nil {
		return err
	}
	for _, f := range external {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("--from-checkpoint: %w", err)
		}
		o.External = append(o.External, b)
	}
	pool, err := db.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	rep, err := audit.Verify(ctx, pool, o)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	for _, f := range rep.Findings {
		fmt.Fprintln(out, f.String())
	}
	fmt.Fprintf(out, "%d events verified (seq %d to %d), %d redacted; %d checkpoints match", rep.Events,
		rep.FromSeq+1, rep.HeadSeq, rep.Redacted, rep.Checkpoints)
	if rep.Unreachable > 0 {
		fmt.Fprintf(out, ", %d older than the pruned prefix (seq %d) not checkable", rep.Unreachable, rep.FromSeq)
	}
	fmt.Fprintln(out)
	if !rep.Intact() {
		return fmt.Errorf("audit chain broken: %s", rep.Findings[0])
	}
	fmt.Fprintln(out, "audit chain intact")
	return nil
}

// verifiers are the keys of --key, else AUDIT_SIGNING_KEY_FILE's; nil when
// neither is given.
func verifiers(cfg config, keyFile string) (note.Verifiers, error) {
	if keyFile == "" {
		keyFile = cfg.Audit.SigningKeyFile
	}
	if keyFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("verifier key: %w", err)
	}
	v, err := audit.ParseVerifiers(b)
	if err != nil {
		return nil, fmt.Errorf("verifier key %s: %w", keyFile, err)
	}
	return v, nil
}

func auditCheckpoint(ctx context.Context, cfg config, out io.Writer) error {
	if cfg.Audit.SigningKeyFile == "" {
		return errors.New("audit checkpoint: AUDIT_SIGNING_KEY_FILE is not set")
	}
	key, err := audit.LoadKey(cfg.Audit.SigningKeyFile)
	if err != nil {
		return err
	}
	pool, err := db.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	cp, err := audit.NewCheckpointer(pool, &audit.CheckpointConfig{Key: key}).Checkpoint(ctx)
	if err != nil {
		return err
	}
	if cp == nil {
		fmt.Fprintln(out, "nothing to sign: the chain is empty or its head is the newest checkpoint's")
		return nil
	}
	_, err = io.WriteString(out, cp.Note)
	return err
}

func auditKeygen(name, file string, out io.Writer) error {
	if file == "" {
		return errors.New("audit keygen: --out FILE is required")
	}
	skey, vkey, err := audit.GenerateKey(name)
	if err != nil {
		return fmt.Errorf("audit keygen: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("audit keygen: %w", err)
	}
	if _, err := fmt.Fprintln(f, skey); err != nil {
		_ = f.Close()
		return fmt.Errorf("audit keygen: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("audit keygen: %w", err)
	}
	_, err = fmt.Fprintln(out, vkey)
	return err
}
