// notecheck verifies Assay's checkpoint notes with independent, standard Go tooling: the
// C2SP signed-note implementation golang.org/x/mod/sumdb/note opens each note with the engine's
// verifier key (printed by `assay pubkey KEY --origin ORIGIN`), and the checkpoint body is
// checked against c2sp.org/tlog-checkpoint (origin, decimal tree size, base64 32-byte root).
// It also checks that a cosigned note still opens with the engine key alone (witness lines are
// unknown signatures, which note.Open must ignore).
//
// Usage: notecheck VKEY NOTEFILE...   (exit 0 and "ok ORIGIN SIZE" per note, or exit 1)
package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

func check(v note.Verifier, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	n, err := note.Open(data, note.VerifierList(v))
	if err != nil {
		return fmt.Errorf("note.Open: %v", err)
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != v.Name() || n.Sigs[0].Hash != v.KeyHash() {
		return fmt.Errorf("expected exactly the engine's signature, got %+v", n.Sigs)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return fmt.Errorf("checkpoint body has %d lines", len(lines))
	}
	if lines[0] != v.Name() {
		return fmt.Errorf("origin %q is not the key name %q", lines[0], v.Name())
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return fmt.Errorf("tree size %q is not canonical decimal", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return fmt.Errorf("root hash %q is not 32 bytes of base64", lines[2])
	}
	fmt.Printf("ok %s %d\n", lines[0], size)
	return nil
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: notecheck VKEY NOTEFILE...")
		os.Exit(2)
	}
	v, err := note.NewVerifier(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "verifier key: %v\n", err)
		os.Exit(1)
	}
	failed := false
	for _, p := range os.Args[2:] {
		if err := check(v, p); err != nil {
			fmt.Printf("FAIL %s: %v\n", p, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}
