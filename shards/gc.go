package shards

import (
	"context"
	"fmt"
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
	Kept          []int64 // the versions kept
	Versions      int     // published versions removed (their pointers)
	Objects       int     // objects removed
	Bytes         int64
	Uploads       int // incomplete multipart uploads aborted
	KeptObjects   int // objects left under _runs/ and _data/
	KeptBytes     int64
	UnderWayOrNew int // runs left whole: under way, or published within Grace
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
	if gc.Now.IsZero() {
		gc.Now = time.Now()
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
	k := &collector{GC: gc, s: s, c: &Collected{}}
	cut := max(0, len(ptrs)-gc.Keep)
	kept, dropped := ptrs[cut:], ptrs[:cut]
	if err := k.keepReferenced(ctx, kept); err != nil {
		return nil, err
	}
	published, err := publishedAt(ptrs)
	if err != nil {
		return nil, err
	}
	runs, order, err := k.runs(ctx)
	if err != nil {
		return nil, err
	}
	// Pointers first: from here on no reader finds these versions.
	if err := k.dropVersions(ctx, dropped); err != nil {
		return k.c, err
	}
	for _, run := range order {
		since, ok := published[run]
		if err := k.sweepRun(ctx, run, runs[run], since, ok); err != nil {
			return k.c, err
		}
	}
	return k.c, k.abortUploads(ctx)
}

// collector is one collection under way.
type collector struct {
	GC
	s      *storage.Store
	c      *Collected
	needed map[string]bool // the keys kept versions reference
}

func (k *collector) logf(format string, args ...any) {
	if k.Log != nil {
		k.Log(format, args...)
	}
}

// keepReferenced records the kept versions and every key they reference:
// their manifests and their files.
func (k *collector) keepReferenced(ctx context.Context, kept []storage.Pointer) error {
	k.needed = map[string]bool{}
	for _, p := range kept {
		k.c.Kept = append(k.c.Kept, p.Seq)
		m, _, err := storage.ManifestOf[writers.Manifest](ctx, k.s, &p)
		if err != nil {
			return fmt.Errorf("version %d: %w", p.Seq, err)
		}
		k.needed[p.Manifest] = true
		for _, o := range m.Outputs {
			if o.Key == "" {
				return fmt.Errorf("version %d: output %s has no key; nothing removed", p.Seq, o.Path)
			}
			k.needed[o.Key] = true
		}
	}
	return nil
}

// publishedAt is when each run was last published.
func publishedAt(ptrs []storage.Pointer) (map[string]time.Time, error) {
	published := map[string]time.Time{}
	for _, p := range ptrs {
		t, err := time.Parse(time.RFC3339Nano, p.PublishedAt)
		if err != nil {
			return nil, fmt.Errorf("version %d: published_at %q: %w", p.Seq, p.PublishedAt, err)
		}
		if t.After(published[p.Run]) {
			published[p.Run] = t
		}
	}
	return published, nil
}

// runs lists the store's objects under _runs/ and _data/ by run, and the
// runs in the order they were found.
func (k *collector) runs(ctx context.Context) (map[string][]storage.Object, []string, error) {
	runs := map[string][]storage.Object{}
	var order []string
	for _, prefix := range runPrefixes {
		objs, err := k.s.ListObjects(ctx, prefix)
		if err != nil {
			return nil, nil, err
		}
		for _, o := range objs {
			run, _, _ := strings.Cut(strings.TrimPrefix(o.Key, prefix), "/")
			if runs[run] == nil {
				order = append(order, run)
			}
			runs[run] = append(runs[run], o)
		}
	}
	return runs, order, nil
}

// dropVersions removes the pointers of the versions beyond Keep.
func (k *collector) dropVersions(ctx context.Context, dropped []storage.Pointer) error {
	for _, p := range dropped {
		k.logf("version %d (run %s, published %s): beyond --keep %d", p.Seq, p.Run, p.PublishedAt, k.Keep)
		if !k.DryRun {
			if err := k.s.Delete(ctx, storage.PointerKey(p.Seq)); err != nil {
				return err
			}
		}
		k.c.Versions++
	}
	return nil
}

// sweepRun removes the files of one run that no kept version references,
// once the run was published (at since, when published) or abandoned
// (its newest file older than Grace) more than Grace ago.
func (k *collector) sweepRun(ctx context.Context, run string, files []storage.Object, since time.Time, published bool) error {
	if !published { // abandoned once its newest file is old
		for _, o := range files {
			if o.ModTime.After(since) {
				since = o.ModTime
			}
		}
	}
	if k.Now.Sub(since) < k.Grace {
		k.c.UnderWayOrNew++
		for _, o := range files {
			k.c.KeptObjects++
			k.c.KeptBytes += o.Size
		}
		return nil
	}
	var n int
	var bytes int64
	for _, o := range files {
		if k.needed[o.Key] {
			k.c.KeptObjects++
			k.c.KeptBytes += o.Size
			continue
		}
		if !k.DryRun {
			if err := k.s.Delete(ctx, o.Key); err != nil {
				return err
			}
		}
		n++
		bytes += o.Size
	}
	if n > 0 {
		what := "never published"
		if published {
			what = "published " + since.UTC().Format(time.RFC3339)
		}
		k.logf("run %s (%s): %d objects, %s, no kept version needs", run, what, n, storage.SizeText(bytes))
	}
	k.c.Objects += n
	k.c.Bytes += bytes
	return nil
}

// abortUploads aborts the incomplete multipart uploads under _runs/ and
// _data/ begun more than Grace ago.
func (k *collector) abortUploads(ctx context.Context) error {
	for _, prefix := range runPrefixes {
		ups, err := k.s.Uploads(ctx, prefix)
		if err != nil {
			return err
		}
		for _, up := range ups {
			if k.Now.Sub(up.Initiated) < k.Grace {
				continue
			}
			k.logf("incomplete upload of %s, begun %s", up.Key, up.Initiated.UTC().Format(time.RFC3339))
			if !k.DryRun {
				if err := k.s.AbortUpload(ctx, up); err != nil {
					return err
				}
			}
			k.c.Uploads++
		}
	}
	return nil
}
