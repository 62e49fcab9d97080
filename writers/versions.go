package writers

import (
	"context"
	"fmt"
	"time"

	"github.com/billcons/billcons/storage"
)

// Version is one kept version of a tree, with its manifest.
type Version struct {
	storage.KeptVersion
	Manifest *Manifest
}

// Versions lists the kept versions of the tree in dir, oldest first, with
// their manifests.
func Versions(dir string) ([]Version, error) {
	kept, err := storage.KeptVersions(dir)
	if err != nil {
		return nil, err
	}
	vs := make([]Version, len(kept))
	for i, k := range kept {
		m, err := ReadManifest(k.Dir)
		if err != nil {
			return nil, err
		}
		vs[i] = Version{KeptVersion: k, Manifest: m}
	}
	return vs, nil
}

// Rollback publishes version v's content as a new version of the tree in
// dir (its files shared by hard links) and returns the new manifest. It
// refuses a version published before the latest close: that would reopen
// a closed cycle.
func Rollback(ctx context.Context, dir string, v int64, keep int, wait time.Duration) (*Manifest, *storage.Tree, error) {
	return republish(ctx, dir, keep, wait, func(t *storage.Tree) (*Manifest, error) {
		src, err := storage.Resolve(dir, v)
		if err != nil {
			return nil, err
		}
		m, err := ReadManifest(src)
		if err != nil {
			return nil, err
		}
		if t.BaseVersion() > 0 {
			latest, err := ReadManifest(t.BaseDir())
			if err != nil {
				return nil, err
			}
			if len(m.Closed) < len(latest.Closed) {
				c := latest.Closed[len(m.Closed)]
				return nil, fmt.Errorf("%w: version %d was published before %s was closed (in version %d); rolling back past a close would reopen it, and a closed cycle is never reopened: what changed is corrected by the next run", ErrCloseOrder, v, c.Cycle, c.Version)
			}
		}
		if err := storage.LinkVersion(src, t.Dir(), nil); err != nil {
			return nil, fmt.Errorf("%s: copying version %d: %w", dir, v, err)
		}
		m.Command, m.RolledBackTo = "rollback", v
		return m, nil
	})
}

// republish publishes a version of the tree in dir that a command makes
// of the latest one without a run: build stages its files in t.Dir() and
// returns its manifest (with Command set), which republish completes,
// writes and commits. The tree stays as it was if anything fails.
func republish(ctx context.Context, dir string, keep int, wait time.Duration, build func(t *storage.Tree) (*Manifest, error)) (*Manifest, *storage.Tree, error) {
	if !storage.IsTree(dir) {
		return nil, nil, fmt.Errorf("%s: %w", dir, storage.ErrNotOurs)
	}
	t, err := storage.BeginWait(ctx, dir, wait, nil)
	if err != nil {
		return nil, nil, err
	}
	t.Keep = keep
	ok := false
	defer func() {
		if !ok {
			t.Abort()
		}
	}()
	m, err := build(t)
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	m.StartedAt, m.EndedAt = now, now
	m.Format, m.FormatVersion = storage.TreeFormat, storage.TreeFormatVersion
	m.TreeVersion, m.BaseVersion, m.Accepted = t.Next(), t.BaseVersion(), nil
	if err := WriteManifest(t.Dir(), m); err != nil {
		return nil, nil, err
	}
	if err := t.Commit(); err != nil {
		return nil, nil, err
	}
	ok = true
	return m, t, nil
}
