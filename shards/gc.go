package shards

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/writers"
)

// GC says what billcons gc keeps of a store.
type GC struct {
	// Keep is how many of the newest published versions stay readable.
	Keep int
	// Grace is how long a run's files stay after it was published, or,
	// for a run never published, after its newest file was written: a run
	// under way (its steps write as they go) is never touched.
	Grace time.Duration
	// DryRun reports what would go and removes nothing.
	DryRun bool
	// Log hears one line per run or version removed.
	Log func(format string, args ...any)
	// Now is the time the grace counts back from (zero: now).
	Now time.Time
}

// Collected is what a collection removed (or, dry, would remove) and kept.
type Collected struct {
	Kept           []int64 // the versions kept
	Versions       int     // published versions removed (their pointers)
	Objects        int     // objects removed
	Bytes          int64
	Uploads        int // incomplete multipart uploads aborted
	KeptObjects    int // objects left under _runs/ and _data/
	KeptBytes      int64
	UnderWayOrNew  int // runs left whole: under way, or published within Grace
	PublishedTotal int // published versions before
}

// runPrefixes hold a store's runs: what their steps hand each other
// (_runs/) and what versions reference (_data/; stores published before
// there was a _data/ have those under _runs/ too).
var runPrefixes = []string{"_runs/", "_data/"}

// Collect removes from the store at u what its kept versions and its runs
// under way do not need:
//
//   - the published pointers of versions beyond Keep, first, so that no
//     reader resolves a version whose files go next;
//   - under _runs/ and _data/, every object that no kept version's manifest
//     references, of runs published (as any version) more than Grace ago
//     and of runs never published whose newest object is older than
//     Grace (abandoned): split and shard intermediates, attempts that
//     lost, files only versions beyond Keep used;
//   - incomplete multipart uploads under _runs/ and _data/ begun more than
//     Grace ago.
//
// A kept version's files, wherever they are (closed cycles' bills are
// referenced by every later version, a rollback references another run's
// files), are never removed; nor is anything outside _runs/, _data/ and
// _published/, nor _plan.json.
func Collect(ctx context.Context, u string, gc GC) (*Collected, error) {
	if gc.Keep < 1 {
		return nil, fmt.Errorf("keep %d: keep at least the latest version", gc.Keep)
	}
	now := gc.Now
	if now.IsZero() {
		now = time.Now()
	}
	logf := func(format string, args ...any) {
		if gc.Log != nil {
			gc.Log(format, args...)
		}
	}
	s, err := storage.Open(ctx, u)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	ptrs, err := storage.Pointers(ctx, s)
	if err != nil {
		return nil, err
	}
	c := &Collected{PublishedTotal: len(ptrs)}
	cut := max(0, len(ptrs)-gc.Keep)
	kept, dropped := ptrs[cut:], ptrs[:cut]
	needed := map[string]bool{}
	for _, p := range kept {
		c.Kept = append(c.Kept, p.Seq)
		m, _, err := storage.ManifestOf[writers.Manifest](ctx, s, &p)
		if err != nil {
			return nil, fmt.Errorf("version %d: %w", p.Seq, err)
		}
		needed[p.Manifest] = true
		for _, o := range m.Outputs {
			if o.Key == "" {
				return nil, fmt.Errorf("version %d: output %s has no key; nothing removed", p.Seq, o.Path)
			}
			needed[o.Key] = true
		}
	}
	published := map[string]time.Time{} // run -> when it was (last) published
	for _, p := range ptrs {
		t, err := time.Parse(time.RFC3339Nano, p.PublishedAt)
		if err != nil {
			return nil, fmt.Errorf("version %d: published_at %q: %w", p.Seq, p.PublishedAt, err)
		}
		if t.After(published[p.Run]) {
			published[p.Run] = t
		}
	}
	runs := map[string][]storage.Object{}
	var order []string
	for _, prefix := range runPrefixes {
		objs, err := s.ListObjects(ctx, prefix)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			run, _, _ := strings.Cut(strings.TrimPrefix(o.Key, prefix), "/")
			if runs[run] == nil {
				order = append(order, run)
			}
			runs[run] = append(runs[run], o)
		}
	}
	// Pointers first: from here on no reader finds these versions.
	for _, p := range dropped {
		logf("version %d (run %s, published %s): beyond --keep %d", p.Seq, p.Run, p.PublishedAt, gc.Keep)
		if !gc.DryRun {
			if err := s.Delete(ctx, storage.PointerKey(p.Seq)); err != nil {
				return c, err
			}
		}
		c.Versions++
	}
	for _, run := range order {
		files := runs[run]
		since, ok := published[run]
		if !ok { // never published: abandoned once its newest file is old
			for _, o := range files {
				if o.ModTime.After(since) {
					since = o.ModTime
				}
			}
		}
		if now.Sub(since) < gc.Grace {
			c.UnderWayOrNew++
			for _, o := range files {
				c.KeptObjects++
				c.KeptBytes += o.Size
			}
			continue
		}
		var n int
		var bytes int64
		for _, o := range files {
			if needed[o.Key] {
				c.KeptObjects++
				c.KeptBytes += o.Size
				continue
			}
			if !gc.DryRun {
				if err := s.Delete(ctx, o.Key); err != nil {
					return c, err
				}
			}
			n++
			bytes += o.Size
		}
		if n > 0 {
			what := "never published"
			if ok {
				what = "published " + since.UTC().Format(time.RFC3339)
			}
			logf("run %s (%s): %d objects, %s, no kept version needs", run, what, n, storage.SizeText(bytes))
		}
		c.Objects += n
		c.Bytes += bytes
	}
	var uploads []storage.Upload
	for _, prefix := range runPrefixes {
		ups, err := s.Uploads(ctx, prefix)
		if err != nil {
			return c, err
		}
		uploads = append(uploads, ups...)
	}
	for _, up := range uploads {
		if now.Sub(up.Initiated) < gc.Grace {
			continue
		}
		logf("incomplete upload of %s, begun %s", up.Key, up.Initiated.UTC().Format(time.RFC3339))
		if !gc.DryRun {
			if err := s.AbortUpload(ctx, up); err != nil {
				return c, err
			}
		}
		c.Uploads++
	}
	sort.Slice(c.Kept, func(i, j int) bool { return c.Kept[i] < c.Kept[j] })
	return c, nil
}
