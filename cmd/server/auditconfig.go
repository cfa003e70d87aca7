package main

import "time"

// auditSettings are the audit checkpoints' variables.
type auditSettings struct {
	// SigningKeyFile is AUDIT_SIGNING_KEY_FILE; "": no checkpoints.
	SigningKeyFile string
	// CheckpointInterval is AUDIT_CHECKPOINT_INTERVAL (1h); 0: no
	// checkpoints.
	CheckpointInterval time.Duration
}

func parseAudit(e env) auditSettings {
	return auditSettings{
		SigningKeyFile:     e.str("AUDIT_SIGNING_KEY_FILE", ""),
		CheckpointInterval: e.duration("AUDIT_CHECKPOINT_INTERVAL", time.Hour),
	}
}
