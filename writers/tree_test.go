package writers

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestTreeLockAndSwap: a second run on the same DIR is refused while the
// first holds it; an aborted run leaves DIR as it was; a commit replaces it
// whole (CONTRACT.md, --out).
func TestTreeLockAndSwap(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	first, err := Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Begin(out); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Begin() = %v, want ErrLocked", err)
	}
	os.WriteFile(filepath.Join(first.Dir(), "manifest.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(first.Dir(), "old"), nil, 0o644)
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}

	aborted, err := Begin(out) // the lock was released
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(aborted.Dir(), "manifest.json"), []byte("{}"), 0o644)
	aborted.Abort()
	if _, err := os.Stat(filepath.Join(out, "old")); err != nil {
		t.Fatalf("Abort() changed DIR: %v", err)
	}

	next, err := Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(next.Dir(), "manifest.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(next.Dir(), "new"), nil, 0o644)
	if err := next.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "old")); !os.IsNotExist(err) {
		t.Errorf("Commit() left the previous tree's file behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "new")); err != nil {
		t.Errorf("Commit() did not install the new tree: %v", err)
	}
	strays, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".out.staging-*"))
	if len(strays) > 0 {
		t.Errorf("staging folders left behind: %v", strays)
	}
}

// TestTreeRecoversInterruptedSwap: on a file system without an atomic
// exchange, a run killed between its two renames leaves DIR missing and the
// previous tree at .DIR.old-PID. The next run must put it back, not delete it.
func TestTreeRecoversInterruptedSwap(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	old := filepath.Join(parent, ".out.old-4242")
	os.Mkdir(old, 0o755)
	os.WriteFile(filepath.Join(old, "manifest.json"), []byte("{}"), 0o644)

	tr, err := Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "manifest.json")); err != nil {
		t.Errorf("Begin() did not restore the previous tree: %v", err)
	}
	tr.Abort() // this run fails too: DIR must still hold the previous tree
	if _, err := os.Stat(filepath.Join(out, "manifest.json")); err != nil {
		t.Errorf("after Abort() DIR lost the previous tree: %v", err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("%s still exists after recovery", old)
	}
}
