package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/pipeline"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/shards"
	"github.com/billcons/billcons/storage"
)

// The steps of a sharded run (CONTRACT.md, Running on many machines).

const shardsBody = `One run as steps an indexed scheduler starts (Kubernetes Indexed Jobs, AWS
Batch array jobs, Argo): plan checks the inputs and fixes the counts; K
split steps bucket the usage rows by account_id; N shard steps run the
passes over their members; commit settles the credits, writes the alerts
and the manifest, and publishes the run. URL is a local folder, file:///…
or s3://bucket/prefix (?endpoint=…&region=… for S3-compatible stores such as
Alibaba OSS). --index defaults to $JOB_COMPLETION_INDEX, then
$AWS_BATCH_JOB_ARRAY_INDEX. Every step may run again, or twice at once:
exactly one attempt of each counts, and readers of URL see the previously
published run until commit publishes the new one.
`

// stepConfig turns a plan's options into the pipeline's settings.
func stepConfig(o shards.Options) (pipeline.Config, error) {
	tim, ok := rules.ParseTiming(o.Timing)
	if !ok {
		return pipeline.Config{}, fmt.Errorf("timing %q: want end-time or next-period", o.Timing)
	}
	loc, err := billing.ParseZone(o.TZ)
	if err != nil {
		return pipeline.Config{}, fmt.Errorf("tz: %w", err)
	}
	cfg := pipeline.Config{Profile: o.Profile, Currency: o.Currency, Timing: tim, Zone: loc, ZoneName: o.TZ,
		MaxRejectRatio: o.MaxRejectRatio, Version: version, Names: map[string]string{}}
	if n, err := strconv.Atoi(os.Getenv("BILLCONS_SPILL_BYTES")); err == nil && n > 0 {
		cfg.SpillBytes = n
	}
	return cfg, nil
}

func newStep(out string, stderr io.Writer, quiet bool) *shards.Step {
	st := &shards.Step{Out: out, Version: version, Config: stepConfig}
	// The commit's guards, against the store's latest version, with the
	// options plan recorded.
	st.Guard = func(o shards.Options) func(context.Context, *pipeline.GuardInput) error {
		g := &guards{acceptMissing: o.AcceptMissing, maxCycleDrop: o.MaxCycleDrop, quiet: quiet, stderr: stderr}
		return g.check
	}
	st.Base = func(ctx context.Context, seq int64) (string, error) {
		return storage.MaterializeAt(ctx, out, cacheDir(), seq)
	}
	if !quiet {
		st.Log = func(format string, args ...any) { fmt.Fprintf(stderr, "billcons: "+format+"\n", args...) }
	}
	return st
}

func stepFailed(cmd string, err error, stderr io.Writer) int {
	err = signalled(err, "; nothing published")
	var ge *guardError
	if errors.As(err, &ge) {
		for _, l := range ge.lines {
			fmt.Fprintf(stderr, "billcons %s: guard tripped: %s\n", cmd, l)
		}
		err = fmt.Errorf("%w: %d guard(s) tripped; nothing published", pipeline.ErrDataQuality, len(ge.lines))
	}
	fmt.Fprintf(stderr, "billcons %s: %v\n", cmd, err)
	if errors.Is(err, pipeline.ErrDataQuality) {
		return exitDataQuality
	}
	return exitFailed
}

func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var shardsN, splitsN int
	ra, code, ok := parseRun("plan", args, stdout, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&shardsN, "shards", 0, "how many shard steps (required)")
		fs.IntVar(&splitsN, "splits", 1, "how many split steps: each reads every K-th usage file")
	})
	if !ok {
		return code
	}
	if shardsN < 1 || splitsN < 1 {
		fmt.Fprintf(stderr, "billcons plan: --shards (from 1) is required and --splits is from 1; see billcons plan --help\n")
		return exitUsage
	}
	if _, err := shards.PlanRun(withStoreRetry(ctx, ra.retry), newStep(ra.cfg.Out, stderr, ra.quiet), ra.opts, shardsN, splitsN); err != nil {
		return stepFailed("plan", err, stderr)
	}
	return exitOK
}

// stepArgs are the flags of split, shard and commit; index is -1 for
// commit, which has none.
type stepArgs struct {
	out   string
	index int
	quiet bool
	retry time.Duration
}

// parseStep parses the flags of split, shard and commit: ok is false when
// the command is done, with code its exit status.
func parseStep(cmd string, args []string, indexed bool, stdout, stderr io.Writer) (a stepArgs, code int, ok bool) {
	fs := flag.NewFlagSet("billcons "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&a.out, "out", "", "the run's store (required)")
	fs.BoolVar(&a.quiet, "quiet", false, "print nothing but errors")
	storeRetryVar(fs, &a.retry)
	a.index = -1
	if indexed {
		fs.IntVar(&a.index, "index", -1, "which step (default $JOB_COMPLETION_INDEX, then $AWS_BATCH_JOB_ARRAY_INDEX)")
	}
	fail := func(format string, args ...any) (stepArgs, int, bool) {
		fmt.Fprintf(stderr, "billcons "+cmd+": "+format+"; see billcons "+cmd+" --help\n", args...)
		return stepArgs{}, exitUsage, false
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, commandHelp("plan"))
			return stepArgs{}, exitOK, false
		}
		return fail("%v", err)
	}
	switch {
	case fs.NArg() > 0:
		return fail("unexpected argument %q", fs.Arg(0))
	case a.out == "":
		return fail("--out is required")
	case a.retry < 0:
		return fail("--store-retry %s: want a duration from 0", a.retry)
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "index" })
	if given && a.index < 0 {
		return fail("--index %d: want a number from 0", a.index)
	}
	if !indexed || given {
		return a, exitOK, true
	}
	for _, env := range []string{"JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"} {
		if v := os.Getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fail("$%s=%q: want a number from 0", env, v)
			}
			a.index = n
			return a, exitOK, true
		}
	}
	return fail("no --index, and neither $JOB_COMPLETION_INDEX nor $AWS_BATCH_JOB_ARRAY_INDEX is set")
}

// storeRetryVar is the --store-retry flag of the commands that write to a
// store.
func storeRetryVar(fs *flag.FlagSet, d *time.Duration) {
	fs.DurationVar(d, "store-retry", storage.DefaultRetry, "how long to retry a store that does not answer, fails (5xx) or throttles, with backoff,\nbefore the step fails (like 30s or 10m)")
}

// withStoreRetry makes the stores opened with ctx retry for d, saying so
// where ctx's retries do (Main: on stderr).
func withStoreRetry(ctx context.Context, d time.Duration) context.Context {
	r := storage.RetryOf(ctx)
	r.For = d
	return storage.WithRetry(ctx, r)
}

func cmdSplit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a, code, ok := parseStep("split", args, true, stdout, stderr)
	if !ok {
		return code
	}
	if err := shards.Split(withStoreRetry(ctx, a.retry), newStep(a.out, stderr, a.quiet), a.index); err != nil {
		return stepFailed("split", err, stderr)
	}
	return exitOK
}

func cmdShard(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a, code, ok := parseStep("shard", args, true, stdout, stderr)
	if !ok {
		return code
	}
	if err := shards.Shard(withStoreRetry(ctx, a.retry), newStep(a.out, stderr, a.quiet), a.index); err != nil {
		return stepFailed("shard", err, stderr)
	}
	return exitOK
}

func cmdCommit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a, code, ok := parseStep("commit", args, false, stdout, stderr)
	if !ok {
		return code
	}
	out, quiet := a.out, a.quiet
	c, err := shards.Commit(withStoreRetry(ctx, a.retry), newStep(out, stderr, quiet))
	if err != nil {
		return stepFailed("commit", err, stderr)
	}
	if c.Result != nil && !quiet {
		for _, a := range c.Result.Alerts {
			fmt.Fprintf(stderr, "billcons commit: alert: %s\n", alertText(&a))
		}
	}
	if !quiet {
		if c.Published {
			m := c.Result.Manifest.Counts
			fmt.Fprintf(stderr, "billcons: %d usage rows read: %d billed in %d files, %d rejected; published run %s as %d at %s\n",
				m.UsageRead, m.UsageBilled, m.BillFiles, m.UsageRejected, c.Pointer.Run, c.Pointer.Seq, out)
		} else {
			fmt.Fprintf(stderr, "billcons: run %s was already published at %s\n", c.Pointer.Run, out)
		}
	}
	return exitOK
}

// cacheDir is where published runs are fetched to be read.
func cacheDir() string {
	if d := os.Getenv("BILLCONS_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "billcons")
	}
	return filepath.Join(os.TempDir(), "billcons-cache")
}

// storeBase is the latest version of the store at u, and a local folder
// holding it for the guards to compare with; nil and "" when the store has
// none.
func storeBase(ctx context.Context, u string) (*storage.Pointer, string, error) {
	s, err := storage.Open(ctx, u)
	if err != nil {
		return nil, "", err
	}
	defer s.Close()
	p, err := storage.Latest(ctx, s)
	if err != nil || p == nil {
		return nil, "", err
	}
	dir, err := storage.MaterializeAt(ctx, u, cacheDir(), p.Seq)
	return p, dir, err
}

// redacted is the input arguments as recorded: URLs without secrets in
// their queries.
func redacted(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = storage.RedactURL(a)
	}
	return out
}

// localizeInputs fetches the run's inputs given as URLs into a temporary
// folder, which it returns ("" when every input is local).
func localizeInputs(ctx context.Context, cfg *pipeline.Config) (tmp string, err error) {
	for _, in := range []struct {
		kind string
		list *[]string
	}{{"usage", &cfg.Usage}, {"changes", &cfg.Changes}, {"accounts", &cfg.Accounts}, {"discounts", &cfg.Discounts},
		{"credits", &cfg.Credits}, {"enterprises", &cfg.Enterprises}, {"balances", &cfg.Balances}} {
		list := in.list
		if !slices.ContainsFunc(*list, storage.IsURL) {
			continue
		}
		if cfg.Given == nil {
			cfg.Given = map[string][]string{}
		}
		cfg.Given[in.kind] = redacted(*list)
		if tmp == "" {
			if tmp, err = os.MkdirTemp("", "billcons-inputs-"); err != nil {
				return "", err
			}
		}
		files, names, err := shards.Localize(ctx, *list, filepath.Join(tmp, in.kind))
		if err != nil {
			return tmp, err
		}
		// The run expands an archive into its members itself: it is given
		// the archive; the names are its members'.
		var local []string
		for _, f := range files {
			if a := readers.ArchivePath(f); !slices.Contains(local, a) {
				local = append(local, a)
			}
		}
		*list = local
		if cfg.Names == nil {
			cfg.Names = map[string]string{}
		}
		for k, v := range names {
			cfg.Names[k] = v
		}
	}
	return tmp, nil
}
