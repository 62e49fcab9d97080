package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned by [Begin] when another run holds DIR.
var ErrLocked = errors.New("another billcons run is writing it")

// ErrNotOurs is returned by [Begin] when DIR exists, is not empty and is not
// a billcons tree: billcons never replaces someone else's folder.
var ErrNotOurs = errors.New("not a billcons tree")

// StateDir is the folder inside DIR that holds what makes DIR a versioned
// tree: the lock, each kept version whole (v/NNNNNN), the link to the
// latest one, and the staging folder of a run under way. Nothing of a
// run is ever written outside DIR.
//
//	DIR/.billcons/lock            flock(2) of the run writing DIR
//	DIR/.billcons/v/000007/...    version 7: bills/, summary/, manifest.json, ...
//	DIR/.billcons/latest          symbolic link to v/000007
//	DIR/.billcons/staging-PID/    the version a run is writing
//	DIR/bills -> .billcons/latest/bills   one link per top-level name
//
// Publishing a version is one rename of the latest link, so a reader
// resolving DIR/bills/... sees the previous version or the new one, whole.
const StateDir = ".billcons"

// TreeFormat and TreeFormatVersion are written in every manifest: they,
// not the file name manifest.json, make a folder a billcons tree.
const (
	TreeFormat        = "billcons-tree"
	TreeFormatVersion = 2
)

// DefaultKeep is how many versions a tree keeps unless --keep says otherwise.
const DefaultKeep = 7

// Tree is the next version of DIR being staged inside DIR. Until
// [Tree.Commit], DIR shows the latest version untouched; a killed run leaves
// only its staging folder, which the next run removes.
type Tree struct {
	out     string // DIR
	state   string // DIR/.billcons
	staging string
	lock    *os.File
	created bool  // DIR did not exist: removed again if nothing is published
	base    int64 // the latest version when the lock was taken; 0: none

	// Keep is how many versions stay after Commit (the new one included);
	// zero means DefaultKeep.
	Keep int

	// Shared is how many bytes of the new version Commit hard-linked to
	// identical files of the base version instead of keeping a copy.
	Shared int64

	// Warnings are what the run could not tidy up without failing: an old
	// version or staging folder it could not remove. The new version is
	// complete regardless; the operator should look.
	Warnings []string
}

// Begin takes the lock on out and creates an empty staging folder in it.
// The lock is an flock(2) on DIR/.billcons/lock: the kernel drops it when
// the process dies, so a killed run never blocks the next one, which
// takes the tree over and removes what the killed run left. When another
// run holds the lock, Begin fails at once with [ErrLocked].
func Begin(out string) (*Tree, error) {
	return BeginWait(context.Background(), out, 0, nil)
}

// BeginWait is [Begin] that waits up to wait for a lock another run holds
// (a negative wait: for as long as it takes, or until ctx is done). It calls
// waiting once, with the holder, when it starts to wait.
//
// out must be absent, an empty folder, or a billcons tree; anything else is
// refused with [ErrNotOurs] before anything is written.
func BeginWait(ctx context.Context, out string, wait time.Duration, waiting func(holder string)) (*Tree, error) {
	out = filepath.Clean(out)
	if base := filepath.Base(out); base == "." || base == "/" || base == ".." {
		return nil, fmt.Errorf("--out %s: give a folder to create or replace", out)
	}
	created := false
	st, err := os.Stat(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, fmt.Errorf("--out %s: %w", out, UnwrapPath(err))
		}
		created = true
	case err != nil:
		return nil, fmt.Errorf("--out %s: %w", out, UnwrapPath(err))
	case !st.IsDir():
		return nil, fmt.Errorf("--out %s: exists and is not a folder", out)
	default:
		if err := CheckOurs(out); err != nil {
			return nil, err
		}
	}
	t := &Tree{out: out, state: filepath.Join(out, StateDir), created: created}
	fail := func(err error) (*Tree, error) {
		t.Abort()
		if t.created {
			os.Remove(t.state) // only if empty: another run may hold it
			os.Remove(out)
		}
		return nil, err
	}
	if err := os.MkdirAll(t.state, 0o755); err != nil {
		return fail(fmt.Errorf("--out %s: %w", out, UnwrapPath(err)))
	}
	if err := t.takeLock(ctx, wait, waiting); err != nil {
		return fail(err)
	}
	if err := t.recover(); err != nil {
		return fail(err)
	}
	t.staging = filepath.Join(t.state, "staging-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(t.staging, 0o755); err != nil {
		return fail(fmt.Errorf("--out %s: creating staging folder: %w", out, UnwrapPath(err)))
	}
	return t, nil
}

func (t *Tree) takeLock(ctx context.Context, wait time.Duration, waiting func(holder string)) error {
	lockPath := filepath.Join(t.state, "lock")
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("--out %s: creating lock %s: %w", t.out, lockPath, UnwrapPath(err))
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
			return fmt.Errorf("--out %s: locking %s: %w", t.out, lockPath, err)
		}
		if wait == 0 || (wait > 0 && time.Now().After(deadline)) {
			who := holder()
			lock.Close()
			if wait > 0 {
				return fmt.Errorf("--out %s: %w (%s), still after waiting %s", t.out, ErrLocked, who, wait)
			}
			return fmt.Errorf("--out %s: %w (%s); use --wait to wait for it", t.out, ErrLocked, who)
		}
		if !announced && waiting != nil {
			waiting(holder())
			announced = true
		}
		select {
		case <-ctx.Done():
			lock.Close()
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	host, _ := os.Hostname()
	lock.Truncate(0)
	lock.WriteAt([]byte(fmt.Sprintf("pid %d on %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))), 0)
	t.lock = lock
	return nil
}

// recover, with the lock held, puts the tree in order after whatever a
// killed run left: its staging folder, a version it renamed into place but
// never published, a half-made link, a tree written before versions.
func (t *Tree) recover() error {
	olds, _ := filepath.Glob(filepath.Join(t.state, "staging-*"))
	tmps, _ := filepath.Glob(filepath.Join(t.state, "latest.tmp-*"))
	for _, o := range append(olds, tmps...) {
		if err := os.RemoveAll(o); err != nil {
			t.Warnings = append(t.Warnings, fmt.Sprintf("could not remove %s, left by an earlier run: %v", o, UnwrapPath(err)))
		}
	}
	if err := t.migrate(); err != nil {
		return err
	}
	latest, err := readLatest(t.state)
	if err != nil {
		return fmt.Errorf("--out %s: %w", t.out, err)
	}
	t.base = latest
	for _, n := range listVersions(t.state) {
		if n > latest { // renamed into place by a run killed before it published
			if err := os.RemoveAll(versionDir(t.state, n)); err != nil {
				return fmt.Errorf("--out %s: removing unpublished version %d: %w", t.out, n, UnwrapPath(err))
			}
		}
	}
	if latest > 0 {
		t.relink(versionDir(t.state, latest))
	}
	return nil
}

// migrate makes a tree written before versions (its files right in DIR)
// version 1 of a versioned tree. A marker makes it resumable: a run killed
// halfway leaves the marker, and the next one moves the rest.
func (t *Tree) migrate() error {
	marker := filepath.Join(t.state, "migrating")
	_, markErr := os.Stat(marker)
	legacy := false
	if fi, err := os.Lstat(filepath.Join(t.out, "manifest.json")); err == nil && fi.Mode().IsRegular() {
		legacy = true
	}
	if !legacy && markErr != nil {
		return nil
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		return fmt.Errorf("--out %s: %w", t.out, UnwrapPath(err))
	}
	v1 := versionDir(t.state, 1)
	if err := os.MkdirAll(v1, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", t.out, UnwrapPath(err))
	}
	entries, err := os.ReadDir(t.out)
	if err != nil {
		return fmt.Errorf("--out %s: %w", t.out, UnwrapPath(err))
	}
	// The manifest last: until it moves, DIR still reads as the old tree.
	sort.SliceStable(entries, func(i, j int) bool { return entries[j].Name() == "manifest.json" })
	for _, e := range entries {
		if e.Name() == StateDir || e.Type()&os.ModeSymlink != 0 {
			continue
		}
		if err := os.Rename(filepath.Join(t.out, e.Name()), filepath.Join(v1, e.Name())); err != nil {
			return fmt.Errorf("--out %s: moving %s into version 1: %w", t.out, e.Name(), UnwrapPath(err))
		}
	}
	t.relink(v1)
	if err := switchLatest(t.state, 1); err != nil {
		return fmt.Errorf("--out %s: %w", t.out, err)
	}
	return os.Remove(marker)
}

// CheckOurs reports whether dir may be replaced by a run: it is empty, or a
// billcons tree (a versioned one, or one whose manifest.json carries
// billcons' own format field or program name). Anything else is
// [ErrNotOurs].
func CheckOurs(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, UnwrapPath(err))
	}
	if len(entries) == 0 {
		return nil
	}
	if fi, err := os.Stat(filepath.Join(dir, StateDir, "lock")); err == nil && fi.Mode().IsRegular() {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return fmt.Errorf("--out %s: %w: the folder is not empty and holds no billcons manifest; billcons replaces only its own output", dir, ErrNotOurs)
	}
	if !IsOurManifest(b) {
		return fmt.Errorf("--out %s: %w: its manifest.json is not billcons' (no \"format\": %q); billcons replaces only its own output", dir, ErrNotOurs, TreeFormat)
	}
	return nil
}

// IsOurManifest reports whether b is a manifest billcons wrote: one with
// billcons' format field, or (trees written before the field) billcons'
// program name and its list of outputs.
func IsOurManifest(b []byte) bool {
	var m struct {
		Format  string            `json:"format"`
		Program string            `json:"program"`
		Outputs []json.RawMessage `json:"outputs"`
		Counts  *json.RawMessage  `json:"counts"`
	}
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	return m.Format == TreeFormat || (m.Program == "billcons" && m.Outputs != nil && m.Counts != nil)
}

// IsTree reports whether dir is a billcons tree that readers can read.
func IsTree(dir string) bool {
	if latest, err := readLatest(filepath.Join(dir, StateDir)); err == nil && latest > 0 {
		return true
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	return err == nil && IsOurManifest(b)
}

// Dir is the staging folder to write the new version into.
func (t *Tree) Dir() string { return t.staging }

// BaseVersion is the latest version when the run began (0: none), the
// version the new one replaces.
func (t *Tree) BaseVersion() int64 { return t.base }

// BaseDir is the folder of the latest version when the run began, or "".
func (t *Tree) BaseDir() string {
	if t.base == 0 {
		return ""
	}
	return versionDir(t.state, t.base)
}

// Next is the number the staged version is published under.
func (t *Tree) Next() int64 { return t.base + 1 }

// Commit publishes the staged folder as version Next: files identical to
// the base version's become hard links to them, the folder is synced and
// renamed to v/NNNNNN, and the latest link is switched to it in one rename.
// Versions beyond Keep are removed afterwards.
func (t *Tree) Commit() error {
	defer t.release()
	t.share()
	// Every file of the new version reaches the disk before the switch: one
	// syncfs(2) for the whole file system, rather than an fsync per file
	// (thousands of bills files made fsync a tenth of a run's time).
	if err := syncTree(t.staging); err != nil {
		return err
	}
	next := t.Next()
	vdir := versionDir(t.state, next)
	if err := os.MkdirAll(filepath.Dir(vdir), 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", t.out, UnwrapPath(err))
	}
	Checkpoint("before-swap")
	if err := os.Rename(t.staging, vdir); err != nil {
		return fmt.Errorf("--out %s: moving the new version in place: %w", t.out, UnwrapPath(err))
	}
	if err := syncDir(filepath.Dir(vdir)); err != nil {
		return err
	}
	Checkpoint("mid-swap") // the version is whole, not yet the latest
	if err := t.linkNames(vdir); err != nil {
		os.RemoveAll(vdir)
		return err
	}
	if err := switchLatest(t.state, next); err != nil {
		os.RemoveAll(vdir)
		return fmt.Errorf("--out %s: %w", t.out, err)
	}
	if err := syncDir(t.state); err != nil {
		return err
	}
	t.base = next
	Checkpoint("committed")
	t.relink(vdir)
	t.prune()
	return nil
}

// share replaces each staged file whose content equals a file of the base
// version (by the manifests' size and SHA-256) with a hard link to it, so
// that a version costs only what changed. Failing that (another file
// system, no links), the copy stays and the run warns once.
func (t *Tree) share() {
	if t.base == 0 {
		return
	}
	baseDir := versionDir(t.state, t.base)
	old, err := outputsIn(baseDir)
	if err != nil {
		return
	}
	now, err := outputsIn(t.staging)
	if err != nil {
		return
	}
	type content struct {
		size int64
		sha  string
	}
	have := make(map[content]string, len(old.Outputs))
	for _, o := range old.Outputs {
		have[content{o.Bytes, o.SHA256}] = o.Path
	}
	for _, o := range now.Outputs {
		from, ok := have[content{o.Bytes, o.SHA256}]
		if !ok {
			continue
		}
		dst := filepath.Join(t.staging, filepath.FromSlash(o.Path))
		src := filepath.Join(baseDir, filepath.FromSlash(from))
		a, errA := os.Stat(src)
		b, errB := os.Stat(dst)
		if errA != nil || errB != nil {
			continue
		}
		if os.SameFile(a, b) { // already shared (a rollback links every file)
			t.Shared += o.Bytes
			continue
		}
		tmp := dst + ".link"
		if err := os.Link(src, tmp); err != nil {
			t.Warnings = append(t.Warnings, fmt.Sprintf("unchanged files are kept as copies, not shared with version %d: %v", t.base, UnwrapPath(err)))
			return
		}
		if err := os.Rename(tmp, dst); err != nil {
			os.Remove(tmp)
			continue
		}
		t.Shared += o.Bytes
	}
}

// linkNames makes DIR/NAME a link to .billcons/latest/NAME for every
// top-level name of the version in vdir, before the switch: a name the
// latest version lacks reads as missing until then.
func (t *Tree) linkNames(vdir string) error {
	entries, err := os.ReadDir(vdir)
	if err != nil {
		return fmt.Errorf("--out %s: %w", t.out, UnwrapPath(err))
	}
	for _, e := range entries {
		link := filepath.Join(t.out, e.Name())
		target := filepath.Join(StateDir, "latest", e.Name())
		if got, err := os.Readlink(link); err == nil && got == target {
			continue
		}
		if _, err := os.Lstat(link); err == nil {
			return fmt.Errorf("--out %s: %s is not billcons' own (not a link into %s); move it out of the tree", t.out, link, StateDir)
		}
		if err := os.Symlink(target, link); err != nil {
			return fmt.Errorf("--out %s: %w", t.out, UnwrapPath(err))
		}
	}
	return nil
}

// relink makes DIR's top-level links those of the version in vdir: missing
// ones are made, ones to names it lacks are removed.
func (t *Tree) relink(vdir string) {
	t.linkNames(vdir)
	entries, _ := os.ReadDir(t.out)
	for _, e := range entries {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		link := filepath.Join(t.out, e.Name())
		if got, _ := os.Readlink(link); got != filepath.Join(StateDir, "latest", e.Name()) {
			continue
		}
		if _, err := os.Lstat(filepath.Join(vdir, e.Name())); errors.Is(err, os.ErrNotExist) {
			os.Remove(link)
		}
	}
}

// prune removes the versions beyond Keep, oldest first. Files they share
// with kept versions stay: a hard link frees its data with the last name.
func (t *Tree) prune() {
	keep := t.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	for _, n := range listVersions(t.state) {
		if n > t.base-int64(keep) {
			break
		}
		if err := os.RemoveAll(versionDir(t.state, n)); err != nil {
			t.Warnings = append(t.Warnings, fmt.Sprintf("could not remove version %d beyond --keep %d: %v", n, keep, UnwrapPath(err)))
		}
	}
}

// Abort removes the staging folder and releases the lock; DIR is untouched.
// A DIR that this run created, and that has no version, is removed again.
func (t *Tree) Abort() {
	if t.staging != "" {
		os.RemoveAll(t.staging)
	}
	if t.base == 0 && t.lock != nil && len(listVersions(t.state)) == 0 {
		// No version ever published: the state folder goes (with the lock
		// in it, which is safe: we hold it), and DIR too if this run made it.
		os.RemoveAll(t.state)
		if t.created {
			os.Remove(t.out) // only if empty
		}
	}
	t.release()
}

func (t *Tree) release() {
	if t.lock != nil {
		t.lock.Close()
		t.lock = nil
	}
}

// versionDir is the folder of version n.
func versionDir(state string, n int64) string {
	return filepath.Join(state, "v", fmt.Sprintf("%06d", n))
}

// listVersions is the numbers of the version folders under state, ascending.
func listVersions(state string) []int64 {
	entries, _ := os.ReadDir(filepath.Join(state, "v"))
	var ns []int64
	for _, e := range entries {
		if n, err := strconv.ParseInt(e.Name(), 10, 64); err == nil && n > 0 && e.IsDir() {
			ns = append(ns, n)
		}
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i] < ns[j] })
	return ns
}

// readLatest reads the latest link: the latest version's number, or 0 when
// there is none.
func readLatest(state string) (int64, error) {
	target, err := os.Readlink(filepath.Join(state, "latest"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", filepath.Join(state, "latest"), UnwrapPath(err))
	}
	n, err := strconv.ParseInt(filepath.Base(target), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s links to %q, not a version", filepath.Join(state, "latest"), target)
	}
	return n, nil
}

// switchLatest points the latest link at version n in one rename.
func switchLatest(state string, n int64) error {
	tmp := filepath.Join(state, "latest.tmp-"+strconv.Itoa(os.Getpid()))
	os.Remove(tmp)
	if err := os.Symlink(filepath.Join("v", fmt.Sprintf("%06d", n)), tmp); err != nil {
		return fmt.Errorf("publishing version %d: %w", n, UnwrapPath(err))
	}
	if err := os.Rename(tmp, filepath.Join(state, "latest")); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("publishing version %d: %w", n, UnwrapPath(err))
	}
	return nil
}

// syncTree flushes the file system holding dir, so that every file written
// under it is on disk.
func syncTree(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, UnwrapPath(err))
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
		return fmt.Errorf("syncing %s: %w", dir, UnwrapPath(err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

func UnwrapPath(err error) error {
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

// treeOutputs is what a version's manifest.json says of its files.
type treeOutputs struct {
	Outputs []struct {
		Path   string `json:"path"`
		Bytes  int64  `json:"bytes"`
		SHA256 string `json:"sha256"`
	} `json:"outputs"`
}

// outputsIn reads the files of the version in dir from its manifest.
func outputsIn(dir string) (*treeOutputs, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m treeOutputs
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	return &m, nil
}
