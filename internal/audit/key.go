package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// DefaultKeyName names keys read from a PEM file, which carries no name.
const DefaultKeyName = "mailsync-audit"

// GenerateKey returns a new Ed25519 key pair named name, as note keys: the
// signing key ("PRIVATE+KEY+name+…", for AUDIT_SIGNING_KEY_FILE) and the
// verifier key ("name+…", for server audit verify --key elsewhere).
func GenerateKey(name string) (signing, verifier string, err error) {
	return note.GenerateKey(rand.Reader, name)
}

// Key is a checkpoint signing key and its verifier key.
type Key struct {
	Signer   note.Signer
	Verifier string // the verifier key text, "name+hash+base64"
}

// LoadKey reads a signing key from path: a note signing key
// ("PRIVATE+KEY+…", as GenerateKey and `server audit keygen` write) or an
// Ed25519 private key in PKCS #8 PEM ("openssl genpkey -algorithm
// ed25519"), named DefaultKeyName. Errors name the file.
func LoadKey(path string) (Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("audit signing key: %w", err)
	}
	k, err := ParseKey(b)
	if err != nil {
		return Key{}, fmt.Errorf("audit signing key %s: %w", path, err)
	}
	return k, nil
}

// ParseKey is LoadKey on the file's content.
func ParseKey(b []byte) (Key, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		priv, ok := k.(ed25519.PrivateKey)
		if err != nil || !ok {
			return Key{}, errors.New("the PEM block is not an Ed25519 private key (PKCS #8)")
		}
		return keyOf(DefaultKeyName, priv)
	}
	s := strings.TrimSpace(string(b))
	signer, err := note.NewSigner(s)
	if err != nil {
		return Key{}, fmt.Errorf("not a note signing key (PRIVATE+KEY+name+hash+key) or an Ed25519 PEM key: %w", err)
	}
	key64 := strings.SplitN(s, "+", 5)[4]            // PRIVATE+KEY+name+hash+key; base64 may hold '+'
	raw, _ := base64.StdEncoding.DecodeString(key64) // NewSigner checked it: algorithm byte + seed
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey))
	if err != nil {
		return Key{}, err
	}
	return Key{Signer: signer, Verifier: vkey}, nil
}

// keyOf builds the note signer and verifier of an Ed25519 key named name.
func keyOf(name string, priv ed25519.PrivateKey) (Key, error) {
	vkey, err := note.NewEd25519VerifierKey(name, priv.Public().(ed25519.PublicKey))
	if err != nil {
		return Key{}, err
	}
	hash := vkey[len(name)+1 : len(name)+9] // the verifier key is name+hash+key
	signer, err := note.NewSigner(fmt.Sprintf("PRIVATE+KEY+%s+%s+%s", name, hash,
		base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...)))) // 1: note's Ed25519 algorithm
	if err != nil {
		return Key{}, err
	}
	return Key{Signer: signer, Verifier: vkey}, nil
}

// ParseVerifiers reads verifier keys, one a line ("name+hash+base64"); a
// signing key (a line, or a whole PEM file) is accepted too and stands for
// its verifier key. Blank lines and lines starting with # are skipped.
func ParseVerifiers(b []byte) (note.Verifiers, error) {
	var vs []note.Verifier
	if blk, _ := pem.Decode(b); blk != nil {
		k, err := ParseKey(b)
		if err != nil {
			return nil, err
		}
		b = []byte(k.Verifier)
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "PRIVATE+KEY+") {
			k, err := ParseKey([]byte(line))
			if err != nil {
				return nil, err
			}
			line = k.Verifier
		}
		v, err := note.NewVerifier(line)
		if err != nil {
			return nil, fmt.Errorf("verifier key %q: %w", line, err)
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, errors.New("no verifier key found")
	}
	return note.VerifierList(vs...), nil
}
