package storage

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Collected is what [CollectTree] removed (or, dry, would remove).
type Collected struct {
	Kept     []int64 // the versions kept
	Versions int     // versions removed
	Leftover int     // folders a killed run left (staging, unpublished versions)
	Bytes    int64   // the data freed: files with no name left elsewhere
}

// CollectTree removes from the tree in dir the versions beyond keep and
// what a killed run left, as the next run would: taking the tree's lock
// (waiting up to wait for a run that holds it, as --wait does), so that
// it never removes what a run under way writes. A run prunes to its own
// --keep when it publishes; gc is for a tree kept longer than needed, or
// left alone after a kill.
func CollectTree(ctx context.Context, dir string, keep int, dryRun bool, wait time.Duration, logf func(format string, args ...any)) (*Collected, error) {
	if keep < 1 {
		return nil, fmt.Errorf("keep %d: keep at least the latest version", keep)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, UnwrapPath(err))
	}
	if !IsTree(dir) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNotOurs)
	}
	t := &Tree{out: filepath.Clean(dir), state: filepath.Join(dir, StateDir)}
	if err := t.takeLock(ctx, wait, nil); err != nil {
		return nil, err
	}
	defer t.lock.Close()
	latest, err := readLatest(t.state)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	c := &Collected{}
	var gone []string
	olds, _ := filepath.Glob(filepath.Join(t.state, "staging-*"))
	tmps, _ := filepath.Glob(filepath.Join(t.state, "latest.tmp-*"))
	for _, o := range append(olds, tmps...) {
		logf("%s: left by a run that was killed", o)
		gone = append(gone, o)
		c.Leftover++
	}
	for _, n := range listVersions(t.state) {
		switch {
		case n > latest:
			logf("version %d: written by a run killed before it published", n)
			c.Leftover++
		case n <= latest-int64(keep):
			logf("version %d: beyond --keep %d", n, keep)
			c.Versions++
		default:
			c.Kept = append(c.Kept, n)
			continue
		}
		gone = append(gone, versionDir(t.state, n))
	}
	c.Bytes = freed(gone)
	for _, g := range gone {
		if dryRun {
			continue
		}
		if err := os.RemoveAll(g); err != nil {
			return c, fmt.Errorf("removing %s: %w", g, UnwrapPath(err))
		}
	}
	return c, nil
}

// freed is how many bytes removing dirs frees: their files that have no
// hard link outside them (a version shares unchanged files with its
// neighbours).
func freed(dirs []string) int64 {
	var n int64
	links := map[uint64]int{} // inode -> links seen inside dir
	sizes := map[uint64]int64{}
	nlink := map[uint64]uint64{}
	walk := func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			n += fi.Size()
			return nil
		}
		links[st.Ino]++
		sizes[st.Ino] = fi.Size()
		nlink[st.Ino] = uint64(st.Nlink)
		return nil
	}
	for _, dir := range dirs {
		filepath.WalkDir(dir, walk)
	}
	for ino, seen := range links {
		if uint64(seen) >= nlink[ino] {
			n += sizes[ino]
		}
	}
	return n
}
