package writers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned by [Begin] when another run holds DIR.
var ErrLocked = errors.New("another billcons run is writing it")

// Tree is a new output tree being staged beside DIR. Until [Tree.Commit],
// DIR is untouched; a killed run leaves only a staging folder, which the next
// run removes.
type Tree struct {
	out     string // DIR
	staging string
	lock    *os.File

	// Warnings are what the run could not tidy up without failing: a
	// previous tree or staging folder it could not remove. The new tree is
	// complete regardless; the operator should look.
	Warnings []string
}

// Begin takes the lock on out and creates an empty staging folder beside it.
// The lock is an flock(2) on a ".NAME.lock" file next to out: the kernel drops
// it when the process dies, so a killed run never blocks the next one. When
// another run holds the lock, Begin fails at once with [ErrLocked].
func Begin(out string) (*Tree, error) {
	return BeginWait(context.Background(), out, 0, nil)
}

// BeginWait is [Begin] that waits up to wait for a lock another run holds
// (a negative wait: for as long as it takes, or until ctx is done). It calls
// waiting once, with the holder, when it starts to wait.
func BeginWait(ctx context.Context, out string, wait time.Duration, waiting func(holder string)) (*Tree, error) {
	out = filepath.Clean(out)
	parent, base := filepath.Dir(out), filepath.Base(out)
	if base == "." || base == "/" || base == ".." {
		return nil, fmt.Errorf("--out %s: give a folder to create or replace", out)
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("--out %s: %w", out, unwrapPath(err))
	}
	lockPath := filepath.Join(parent, "."+base+".lock")
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--out %s: creating lock %s: %w", out, lockPath, unwrapPath(err))
	}
	holder := func() string {
		b, _ := os.ReadFile(lockPath)
		if who := strings.TrimSpace(string(b)); who != "" {
			return who
		}
		return "unknown process"
	}
	deadline := time.Now().Add(wait)
	for announced := false; ; {
		err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			lock.Close()
			return nil, fmt.Errorf("--out %s: locking %s: %w", out, lockPath, err)
		}
		if wait == 0 || (wait > 0 && time.Now().After(deadline)) {
			who := holder()
			lock.Close()
			if wait > 0 {
				return nil, fmt.Errorf("--out %s: %w (%s; lock %s), still after waiting %s", out, ErrLocked, who, lockPath, wait)
			}
			return nil, fmt.Errorf("--out %s: %w (%s; lock %s); use --wait to wait for it", out, ErrLocked, who, lockPath)
		}
		if !announced && waiting != nil {
			waiting(holder())
			announced = true
		}
		select {
		case <-ctx.Done():
			lock.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	host, _ := os.Hostname()
	lock.Truncate(0)
	lock.WriteAt([]byte(fmt.Sprintf("pid %d on %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))), 0)

	// Staging folders of killed runs: safe to remove, we hold the lock.
	var warnings []string
	olds, _ := filepath.Glob(filepath.Join(parent, "."+base+".staging-*"))
	for _, o := range olds {
		if err := os.RemoveAll(o); err != nil {
			warnings = append(warnings, fmt.Sprintf("could not remove %s, left by an earlier run: %v", o, unwrapPath(err)))
		}
	}
	if err := recoverOld(out, &warnings); err != nil {
		lock.Close()
		return nil, err
	}
	if err := checkReplaceable(out); err != nil {
		lock.Close()
		return nil, err
	}
	staging := filepath.Join(parent, "."+base+".staging-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(staging, 0o755); err != nil {
		lock.Close()
		return nil, fmt.Errorf("--out %s: creating staging folder: %w", out, unwrapPath(err))
	}
	return &Tree{out: out, staging: staging, lock: lock, Warnings: warnings}, nil
}

// recoverOld undoes a swap cut short on a file system without an atomic
// exchange: when DIR is missing but a .NAME.old-* folder exists, that folder
// is the previous complete tree and goes back to DIR. When DIR exists, any
// .NAME.old-* is what a finished swap left behind, and is removed.
func recoverOld(out string, warnings *[]string) error {
	olds, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".old-*"))
	if len(olds) == 0 {
		return nil
	}
	if _, err := os.Lstat(out); errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(olds[0], out); err != nil {
			return fmt.Errorf("--out %s: restoring the previous tree from %s: %w", out, olds[0], unwrapPath(err))
		}
		olds = olds[1:]
	}
	for _, o := range olds {
		if err := os.RemoveAll(o); err != nil {
			*warnings = append(*warnings, fmt.Sprintf("could not remove %s, a tree an earlier run replaced: %v", o, unwrapPath(err)))
		}
	}
	return nil
}

// checkReplaceable refuses to replace a folder that is not a billcons tree,
// so that a mistyped --out never deletes someone's data.
func checkReplaceable(out string) error {
	st, err := os.Stat(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--out %s: %w", out, unwrapPath(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("--out %s: exists and is not a folder", out)
	}
	if _, err := os.Stat(filepath.Join(out, "manifest.json")); err == nil {
		return nil
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return fmt.Errorf("--out %s: %w", out, unwrapPath(err))
	}
	if len(entries) > 0 {
		return fmt.Errorf("--out %s: folder exists, is not empty and holds no manifest.json; billcons replaces only its own output", out)
	}
	return nil
}

// Dir is the staging folder to write the new tree into.
func (t *Tree) Dir() string { return t.staging }

// Commit makes the staged tree DIR in one step and removes the previous one.
// With renameat2(RENAME_EXCHANGE) the swap is atomic: a reader sees the old
// tree or the new one, never neither.
func (t *Tree) Commit() error {
	defer t.release()
	// Every file of the new tree reaches the disk before the swap: one
	// syncfs(2) for the whole file system, rather than an fsync per file
	// (thousands of bills files made fsync a tenth of a run's time).
	if err := syncTree(t.staging); err != nil {
		return err
	}
	if err := syncDir(t.staging); err != nil {
		return err
	}
	Checkpoint("before-swap")
	_, statErr := os.Lstat(t.out)
	switch {
	case errors.Is(statErr, os.ErrNotExist):
		if err := os.Rename(t.staging, t.out); err != nil {
			return fmt.Errorf("--out %s: moving new tree in place: %w", t.out, unwrapPath(err))
		}
	default:
		var err error = unix.EINVAL
		if !renameOnly {
			err = unix.Renameat2(unix.AT_FDCWD, t.staging, unix.AT_FDCWD, t.out, unix.RENAME_EXCHANGE)
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			// No atomic exchange on this file system: move the old tree aside
			// first. A kill between the two renames leaves DIR missing and
			// the previous tree at .NAME.old-PID; the next Begin puts it back.
			old := filepath.Join(filepath.Dir(t.out), "."+filepath.Base(t.out)+".old-"+strconv.Itoa(os.Getpid()))
			if err := os.Rename(t.out, old); err != nil {
				return fmt.Errorf("--out %s: moving previous tree aside: %w", t.out, unwrapPath(err))
			}
			Checkpoint("mid-swap")
			if err := os.Rename(t.staging, t.out); err != nil {
				os.Rename(old, t.out)
				return fmt.Errorf("--out %s: moving new tree in place: %w", t.out, unwrapPath(err))
			}
			t.removeOld(old)
		} else if err != nil {
			return fmt.Errorf("--out %s: swapping in new tree: %w", t.out, err)
		} else {
			Checkpoint("mid-swap") // DIR is the new tree, staging the old
			t.removeOld(t.staging)
		}
	}
	if err := syncDir(filepath.Dir(t.out)); err != nil {
		return err
	}
	Checkpoint("committed")
	return nil
}

// removeOld removes the tree just replaced; failing that, the new tree
// stands and the run warns.
func (t *Tree) removeOld(dir string) {
	if err := os.RemoveAll(dir); err != nil {
		t.Warnings = append(t.Warnings, fmt.Sprintf("the new tree is in place, but the previous one could not be removed from %s: %v", dir, unwrapPath(err)))
	}
}

// Abort removes the staging folder and releases the lock; DIR is untouched.
func (t *Tree) Abort() {
	os.RemoveAll(t.staging)
	t.release()
}

func (t *Tree) release() {
	if t.lock != nil {
		t.lock.Close()
		t.lock = nil
	}
}

// syncTree flushes the file system holding dir, so that every file written
// under it is on disk.
func syncTree(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, unwrapPath(err))
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, unwrapPath(err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
