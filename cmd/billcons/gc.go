package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/billcons/billcons/shards"
	"github.com/billcons/billcons/storage"
)

const gcBody = `Removes what the kept versions of a tree or store no longer need.

In a store (s3://…, or a folder a sharded run or run --out URL publishes
to): the versions beyond --keep (their pointers first, so no reader finds
them); then, under _runs/ (what steps hand each other) and _data/ (what
versions reference), every object no kept version references, of runs
published more than --grace ago and of runs never published whose newest
object is older than --grace (abandoned): split and shard intermediates,
attempts that lost, files only dropped versions used; then incomplete
multipart uploads there begun more than --grace ago. A kept version's
files are never removed, wherever they are (a closed cycle's bills are
referenced by every later version), nor anything outside _runs/, _data/
and _published/, nor _plan.json. --grace must be longer than a run takes:
a run under way writes as it goes, so its files are younger than that.

In a tree (DIR): the versions beyond --keep, and what a killed run left
(its staging folder, a version it never published), under the tree's
lock, so never while a run writes it.

--dry-run prints the same lines and removes nothing.
`

func cmdGC(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billcons gc", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	keep := fs.Int("keep", storage.DefaultKeep, "how many of the newest versions stay readable")
	grace := fs.Duration("grace", 24*time.Hour, "in a store, how long a run's files stay after it was published, or after its newest file\nwhen it never was (like 24h or 30m)")
	dry := fs.Bool("dry-run", false, "print what would be removed, remove nothing")
	var retry time.Duration
	storeRetryVar(fs, &retry)
	var wait waitFlag
	fs.Var(&wait, "wait", "in a tree, when a run holds DIR, wait for it")
	dir, code := dirOnly("gc", fs, args, stdout, stderr, commandHelp("gc"))
	if dir == "" {
		return code
	}
	switch {
	case *keep < 1:
		fmt.Fprintf(stderr, "billcons gc: --keep %d: keep at least 1 version; see billcons gc --help\n", *keep)
		return exitUsage
	case *grace < 0 || retry < 0:
		fmt.Fprintln(stderr, "billcons gc: --grace and --store-retry are durations from 0; see billcons gc --help")
		return exitUsage
	}
	ctx = withStoreRetry(ctx, retry)
	would := ""
	if *dry {
		would = "would remove "
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(stdout, "%s%s\n", would, fmt.Sprintf(format, a...))
	}
	if isStore(dir) {
		c, err := shards.Collect(ctx, dir, shards.GC{Keep: *keep, Grace: *grace, DryRun: *dry, Log: logf})
		if err != nil {
			fmt.Fprintf(stderr, "billcons gc: %v\n", signalled(err, ""))
			return exitFailed
		}
		fmt.Fprintf(stderr, "billcons gc: %s: kept %s; %s%d %s, %d %s (%s), %d incomplete %s; left under _runs/ and _data/: %d %s (%s)%s\n",
			dir, versionsText(c.Kept), would, c.Versions, plural(c.Versions, "version"), c.Objects, plural(c.Objects, "object"), storage.SizeText(c.Bytes),
			c.Uploads, plural(c.Uploads, "upload"), c.KeptObjects, plural(c.KeptObjects, "object"), storage.SizeText(c.KeptBytes), underWay(c.UnderWayOrNew, *grace))
		return exitOK
	}
	c, err := storage.CollectTree(ctx, dir, *keep, *dry, time.Duration(wait), logf)
	if err != nil {
		fmt.Fprintf(stderr, "billcons gc: %v\n", signalled(err, ""))
		return exitFailed
	}
	fmt.Fprintf(stderr, "billcons gc: %s: kept %s; %s%d %s beyond --keep and %d left by killed runs, freeing %s\n",
		dir, versionsText(c.Kept), would, c.Versions, plural(c.Versions, "version"), c.Leftover, storage.SizeText(c.Bytes))
	return exitOK
}

// versionsText is "versions 5 to 7", "version 7" or "no version".
func versionsText(vs []int64) string {
	switch len(vs) {
	case 0:
		return "no version"
	case 1:
		return fmt.Sprintf("version %d", vs[0])
	}
	return fmt.Sprintf("versions %d to %d", vs[0], vs[len(vs)-1])
}

func underWay(n int, grace time.Duration) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d %s left whole (under way, or published less than --grace %s ago)", n, plural(n, "run"), grace)
}

// plural is noun for n: "version" or "versions".
func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}
