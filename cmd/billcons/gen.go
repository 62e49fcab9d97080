package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/billcons/billcons/gen"
	"golang.org/x/term"
)

const genBody = `Writes a realistic, deterministic dataset in the contract's formats:
DIR/usage/part-NNNNN.{parquet,csv} (524,288 lines per file),
DIR/changes.csv and DIR/accounts.csv. Three billing cycles (2024-01 to
2024-03, cut in +08:00; --cycles C for C months from 2024-01); hourly,
daily and monthly lines over six products; about 5% unsettled; refunds;
CNY and USD; amounts with 2 to 9 fractional digits; carried-through
columns, one with commas and quotes. 80% of the
members join a management account before the cycles, filling each up to the
300-member cap; a fifth move or leave inside a cycle, on line boundaries.
The same options give the same bytes.

Options:
`

func cmdGen(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billcons gen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	lines := fs.Int64("lines", 0, "usage lines to write (required)")
	out := fs.String("out", "", "the folder to write into (required)")
	seed := fs.Uint64("seed", 1, "the random seed")
	format := fs.String("format", "parquet", "usage files as parquet or csv")
	members := fs.Int("members", 0, "member accounts (default: one per 2,000 lines, at least 100)")
	management := fs.Int("management", 0, "management accounts (default: enough for 80% of the members at 300 each)")
	cycles := fs.Int("cycles", 3, "monthly billing cycles from 2024-01")
	late := fs.Int64("late", 0, "late lines to write besides, to DIR/late/: new line ids of every cycle but the last,\nfor a night after the earlier cycles closed (the rest of DIR does not change)")
	quiet := fs.Bool("quiet", false, "print nothing but errors")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, commandHelp("gen"))
			printFlags(stdout, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "billcons gen: %v; see billcons gen --help\n", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "billcons gen: unexpected argument %q; see billcons gen --help\n", fs.Arg(0))
		return exitUsage
	}
	if *lines <= 0 || *out == "" {
		fmt.Fprintln(stderr, "billcons gen: --lines N (above 0) and --out DIR are required; see billcons gen --help")
		return exitUsage
	}
	if *late < 0 {
		fmt.Fprintf(stderr, "billcons gen: --late %d: want 0 or more lines\n", *late)
		return exitUsage
	}
	if *cycles < 1 || *cycles > 1200 {
		fmt.Fprintf(stderr, "billcons gen: --cycles %d: want 1 to 1200 months\n", *cycles)
		return exitUsage
	}
	started := time.Now()
	o := gen.Options{Lines: *lines, Out: *out, Seed: *seed, Format: *format, Members: *members, Management: *management, Cycles: *cycles, Late: *late}
	if f, ok := stderr.(*os.File); ok && !*quiet && term.IsTerminal(int(f.Fd())) {
		o.Progress = func(n int64) {
			fmt.Fprintf(stderr, "\rbillcons gen: %d of %d lines (%.0f%%)", n, *lines, 100*float64(n)/float64(*lines))
		}
	}
	st, err := gen.Write(ctx, o)
	if o.Progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	err = signalled(err, "; "+*out+" holds part of a dataset")
	if err != nil {
		fmt.Fprintf(stderr, "billcons gen: %v\n", err)
		return exitFailed
	}
	if !*quiet {
		fmt.Fprintf(stderr, "billcons gen: wrote %d lines (%d unsettled, %d refunds) in %d usage files, %d MB, %d changes for %d members (%d moving inside the cycles) and %d management accounts to %s in %.1fs\n",
			st.Lines, st.Unsettled, st.Refunds, len(st.Files), st.UsageBytes>>20, st.Changes, st.Members, st.MovedInside, st.Management, *out, time.Since(started).Seconds())
		if *late > 0 {
			fmt.Fprintf(stderr, "billcons gen: and %d late lines of the cycles before the last in %s: add them to --usage after closing those cycles\n", *late, filepath.Join(*out, "late"))
		}
	}
	return exitOK
}
