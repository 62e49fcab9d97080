package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var flagRE = regexp.MustCompile(`--[a-z][a-z-]*`)

// flagsOf returns the --flags a text names.
func flagsOf(s string) []string {
	fs := flagRE.FindAllString(s, -1)
	slices.Sort(fs)
	return slices.Compact(fs)
}

// TestCommandTable: the command table drives the help. billcons help
// lists every command's synopsis; billcons help NAME and NAME --help print
// the same text, starting with its synopsis; the options they list are
// the flags the synopsis names (GNU style, --name), no more and no fewer;
// an unknown command is exit 2.
func TestCommandTable(t *testing.T) {
	ctx := context.Background()
	var general bytes.Buffer
	if code := Main(ctx, []string{"help"}, &general, &bytes.Buffer{}); code != exitOK {
		t.Fatalf("billcons help: exit %d", code)
	}
	for _, c := range commands {
		if !strings.Contains(general.String(), c.synopsis+"\n") {
			t.Errorf("billcons help lacks %s's synopsis", c.name)
		}
		var viaHelp, viaFlag, errs bytes.Buffer
		if code := Main(ctx, []string{"help", c.name}, &viaHelp, &errs); code != exitOK {
			t.Errorf("billcons help %s: exit %d: %s", c.name, code, errs.String())
			continue
		}
		if code := Main(ctx, []string{c.name, "--help"}, &viaFlag, &errs); code != exitOK {
			t.Errorf("billcons %s --help: exit %d: %s", c.name, code, errs.String())
		}
		if viaHelp.String() != viaFlag.String() {
			t.Errorf("billcons help %s and billcons %s --help differ", c.name, c.name)
		}
		out := viaHelp.String()
		if !strings.HasPrefix(out, "Usage:\n") || !strings.Contains(out, c.synopsis+"\n") {
			t.Errorf("billcons help %s does not start with its synopsis:\n%s", c.name, out)
		}
		if strings.Contains(out, "\n  -") && regexp.MustCompile(`\n  -[a-z]`).MatchString(out) {
			t.Errorf("billcons help %s lists an option Go-style (-name): want --name", c.name)
		}
		_, opts, ok := strings.Cut(out, "\nOptions")
		if !ok || c.family == "shards" {
			continue // no options of its own, or plan's are run's
		}
		var listed []string
		for _, l := range strings.Split(opts, "\n") {
			if strings.HasPrefix(l, "  --") {
				listed = append(listed, flagsOf(l)[0])
			}
		}
		slices.Sort(listed)
		syn := flagsOf(c.synopsis)
		if !slices.Equal(syn, listed) {
			t.Errorf("%s: its synopsis names %v, its options are %v", c.name, syn, listed)
		}
	}
	var errs bytes.Buffer
	if code := Main(ctx, []string{"help", "bogus"}, &bytes.Buffer{}, &errs); code != exitUsage || !strings.Contains(errs.String(), `unknown command "bogus"`) {
		t.Errorf("billcons help bogus: exit %d, %q; want 2 and the command named", code, errs.String())
	}
}

// TestDocsSynopses: every "billcons COMMAND ..." line the README and docs
// show in a code block names a command of the table and only flags its
// synopsis has, so that the docs cannot teach a flag that is gone.
func TestDocsSynopses(t *testing.T) {
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md", "../../ARCHITECTURE.md", "../../CONTRIBUTING.md")
	seen := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		fence := false
		for i, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "```") {
				fence = !fence
				continue
			}
			if !fence && !strings.HasPrefix(l, "    ") {
				continue
			}
			fields := strings.Fields(l)
			if len(fields) < 2 || fields[0] != "billcons" {
				continue
			}
			code, _, _ := strings.Cut(l, " #") // a comment after the command
			name := fields[1]
			if strings.HasSuffix(name, ":") {
				continue // a message billcons printed, not a command line
			}
			if strings.Contains(name, "|") { // plan|split|shard|commit
				name = strings.Split(name, "|")[0]
			}
			c := lookup(name)
			if c == nil {
				if strings.HasPrefix(name, "$") || strings.HasPrefix(name, "-") || strings.ContainsAny(name, "/.") {
					continue // a variable or a path: not a command line
				}
				t.Errorf("%s:%d: billcons %s: no such command", f, i+1, name)
				continue
			}
			allowed := c.synopsis
			if c.family != "" || c.name == "plan" {
				allowed += lookup("run").synopsis // plan takes run's inputs and options
				for _, o := range commands {
					if o.family == c.family {
						allowed += o.synopsis
					}
				}
			}
			for _, fl := range flagsOf(code) {
				if fl == "--help" {
					continue
				}
				if !slices.Contains(flagsOf(allowed), fl) {
					t.Errorf("%s:%d: billcons %s %s: not in its synopsis (%s)", f, i+1, name, fl, strings.Join(strings.Fields(c.synopsis), " "))
				}
			}
			seen++
		}
	}
	readme, _ := os.ReadFile("../../README.md")
	for _, c := range commands {
		if !strings.Contains(string(readme), "billcons "+c.name) && !strings.Contains(string(readme), "|"+c.name) {
			t.Errorf("README.md shows no billcons %s", c.name)
		}
	}
	if seen < 20 {
		t.Errorf("%d command lines in the docs: the test reads them wrongly", seen)
	}
}
