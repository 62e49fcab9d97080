package main

import (
	"strings"
	"testing"
)

// synopses returns the usage lines of a help text: from "Usage:" to the
// first blank line, each command's line with its continuation lines.
func synopses(help string) map[string]string {
	out := map[string]string{}
	_, rest, ok := strings.Cut(help, "Usage:\n")
	if !ok {
		return out
	}
	block, _, _ := strings.Cut(rest, "\n\n")
	var cmd string
	for _, l := range strings.Split(block, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "billcons" {
			cmd = f[1]
			if f[1] == "export" && len(f) > 2 { // two forms: --focus and --payer
				cmd += " " + f[2]
			}
		}
		if cmd != "" {
			out[cmd] += strings.TrimSpace(l) + " "
		}
	}
	return out
}

// TestHelpSynopses: the general help's synopsis of each command is the one
// its own help gives, word for word, so that neither falls behind the
// other when a flag is added.
func TestHelpSynopses(t *testing.T) {
	general := synopses(usageText)
	for name, help := range map[string]string{
		"run": runHelp, "verify": verifyHelp, "report": reportHelp, "query": queryHelp, "invoice": invoiceHelp,
		"export": exportHelp, "versions": versionsHelp, "diff": diffHelp, "rollback": rollbackHelp, "gen": genHelp,
	} {
		own := synopses(help)
		if len(own) == 0 {
			t.Errorf("%s: its help has no Usage: block", name)
		}
		for cmd, syn := range own {
			if general[cmd] != syn {
				t.Errorf("%s: billcons help says\n  %q\nits own help says\n  %q", cmd, general[cmd], syn)
			}
		}
	}
}
