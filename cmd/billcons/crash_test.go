package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/verify"
	"github.com/billcons/billcons/writers"
)

// The crash tests run billcons as a child process (this test binary, started
// with BILLCONS_TEST_MAIN=1) and kill it with SIGKILL at the named points of
// storage.Checkpoint. They check the promise of CONTRACT.md, Command line:
// until a new tree is complete DIR holds the previous one, and a run that
// fails or is killed leaves it untouched.

// demo is the demo quarter the repository ships, as an absolute path: the
// tests change directory.
var demo, _ = filepath.Abs("../../fixtures/demo")

// child is a billcons process started by a test.
type child struct {
	cmd    *exec.Cmd
	stderr *bufio.Reader
	lines  chan string
	waited chan error
}

func startChild(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "BILLCONS_TEST_MAIN=1"), env...)
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 100), waited: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.waited <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return c
}

// waitPaused waits until the child reports that it stopped at point.
func (c *child) waitPaused(t *testing.T, point string) {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	var seen []string
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("child exited before pausing at %s: %v\n%s", point, <-c.waited, strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if l == "billcons: paused at "+point {
				c.waitStopped(t)
				return
			}
		case <-timeout:
			t.Fatalf("child did not pause at %s", point)
		}
	}
}

// waitStopped waits until the child is stopped: it prints its line just
// before it stops, and a SIGCONT sent in between would be lost.
func (c *child) waitStopped(t *testing.T) {
	t.Helper()
	stat := fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid)
	for i := 0; i < 12000; i++ {
		b, err := os.ReadFile(stat)
		if err != nil {
			t.Fatalf("child gone: %v", err)
		}
		// The state follows the command name in parentheses.
		if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 && f[0] == "T" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("child did not stop")
}

// finish waits for the child and returns its exit status and the rest of its stderr.
func (c *child) finish(t *testing.T) (int, string) {
	t.Helper()
	var rest []string
	for l := range c.lines {
		rest = append(rest, l)
	}
	err := <-c.waited
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, strings.Join(rest, "\n")
}

// billcons runs the command in process and fails the test unless it exits with want.
func billcons(t *testing.T, want int, args ...string) string {
	t.Helper()
	var out, errb strings.Builder
	if got := Main(context.Background(), args, &out, &errb); got != want {
		t.Fatalf("billcons %s: exit %d, want %d; stderr: %s", strings.Join(args, " "), got, want, errb.String())
	}
	return out.String() + errb.String()
}

// inputs writes the demo quarter to dir, and with more, a second usage file
// that arrived later: a rerun must take it in.
func inputs(t *testing.T, dir string, more bool) []string {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "usage"), 0o755)
	for _, f := range []string{"usage.csv", "changes.csv", "accounts.csv", "discounts.csv", "credits.csv", "enterprises.csv", "balances.csv"} {
		b, err := os.ReadFile(filepath.Join(demo, f))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, f)
		if f == "usage.csv" {
			dst = filepath.Join(dir, "usage", "a.csv")
		}
		os.WriteFile(dst, b, 0o644)
	}
	if more {
		b, _ := os.ReadFile(filepath.Join(demo, "usage.csv"))
		lines := strings.SplitAfter(string(b), "\n")
		var late strings.Builder
		late.WriteString(lines[0])
		for _, l := range lines[1:200] {
			late.WriteString(strings.Replace(l, "L", "LATE", 1)) // new line ids
		}
		os.WriteFile(filepath.Join(dir, "usage", "b.csv"), []byte(late.String()), 0o644)
	} else {
		os.Remove(filepath.Join(dir, "usage", "b.csv"))
	}
	return []string{"run", "--usage", filepath.Join(dir, "usage"), "--changes", filepath.Join(dir, "changes.csv"),
		"--accounts", filepath.Join(dir, "accounts.csv"), "--discounts", filepath.Join(dir, "discounts.csv"),
		"--credits", filepath.Join(dir, "credits.csv"), "--enterprises", filepath.Join(dir, "enterprises.csv"),
		"--balances", filepath.Join(dir, "balances.csv"), "--quiet"}
}

// snapshot reads every file of a tree's latest version, by relative path:
// none when the tree has no version.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	if _, err := os.Stat(filepath.Join(dir, storage.StateDir)); err == nil {
		if _, err := os.Stat(filepath.Join(dir, storage.StateDir, "latest")); err != nil {
			return files // a tree with no version published
		}
	}
	dir, err := storage.Resolve(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sameTree compares two trees file by file; the manifest is compared without
// its times and paths, which differ between runs by design.
func sameTree(a, b map[string][]byte) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d files, want %d", len(a), len(b))
	}
	for name, x := range a {
		y, ok := b[name]
		switch {
		case !ok:
			return name + " is not in the other tree"
		case name == "views.sql":
			// It names the tree's absolute folder; the rest must not differ.
			if withoutDir(x) != withoutDir(y) {
				return "views.sql differs beyond the folder it names"
			}
		case name == "manifest.json":
			// Times and paths differ by design; what was read and written must not.
			if d := sameManifest(x, y); d != "" {
				return "manifest.json: " + d
			}
		case !bytes.Equal(x, y):
			return name + " differs"
		}
	}
	return ""
}

func sameManifest(a, b []byte) string {
	var x, y writers.Manifest
	if err := json.Unmarshal(a, &x); err != nil {
		return err.Error()
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return err.Error()
	}
	if !reflect.DeepEqual(withoutViews(x.Outputs), withoutViews(y.Outputs)) || x.Counts != y.Counts || !reflect.DeepEqual(x.Totals, y.Totals) {
		return "outputs, counts or totals differ"
	}
	if len(x.Inputs) != len(y.Inputs) {
		return "inputs differ"
	}
	for i := range x.Inputs {
		if x.Inputs[i].SHA256 != y.Inputs[i].SHA256 || x.Inputs[i].Rows != y.Inputs[i].Rows {
			return "inputs differ"
		}
	}
	return ""
}

// withoutDir drops the lines of views.sql that name the tree's folder.
func withoutDir(b []byte) string {
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "--     .read /") && !strings.HasPrefix(l, "SET VARIABLE billcons_dir") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func withoutViews(outs []writers.Output) []writers.Output {
	var keep []writers.Output
	for _, o := range outs {
		if o.Path != "views.sql" {
			keep = append(keep, o)
		}
	}
	return keep
}

// previousTree makes a fresh working folder with a tree from the demo
// quarter in ./out, and returns the arguments of a rerun after more usage
// arrived, and the tree as it is now.
func previousTree(t *testing.T) ([]string, map[string][]byte) {
	t.Helper()
	t.Chdir(t.TempDir())
	billcons(t, 0, append(inputs(t, "in", false), "--out", "out")...)
	before := snapshot(t, "out")
	return append(inputs(t, "in", true), "--out", "out"), before
}

// strays lists what runs leave beside DIR that they should not: staging
// folders and trees moved aside. The lock file stays by design.
func strays(t *testing.T, parent string) []string {
	t.Helper()
	var s []string
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") { // a lock, staging or old tree beside DIR
			s = append(s, e.Name())
		}
	}
	// Inside DIR: a run's staging folder or half-made link.
	inside, _ := os.ReadDir(filepath.Join(parent, "out", storage.StateDir))
	for _, e := range inside {
		if strings.HasPrefix(e.Name(), "staging-") || strings.HasPrefix(e.Name(), "latest.tmp-") {
			s = append(s, filepath.Join("out", storage.StateDir, e.Name()))
		}
	}
	return s
}

// TestKillAtEveryPoint kills a run at each checkpoint, with and without a
// previous version, and checks what DIR shows after the kill, that verify
// passes, and that the next run succeeds, matches a clean run byte for
// byte and leaves nothing behind, in DIR or beside it.
func TestKillAtEveryPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process per case")
	}
	// The trees clean runs make, to compare against. Every run reads and
	// writes the same relative paths (in/..., out), because the rejects name
	// their source files.
	clean := func(more bool) map[string][]byte {
		t.Chdir(t.TempDir())
		args := inputs(t, "in", false)
		if more {
			args = inputs(t, "in", true)
		}
		billcons(t, 0, append(args, "--out", "out")...)
		return snapshot(t, "out")
	}
	cleanOld, cleanNew := clean(false), clean(true)
	if sameTree(cleanOld, cleanNew) == "" {
		t.Fatal("the later usage did not change the tree; the test would prove nothing")
	}

	points := []string{"hashed", "reading", "writing", "before-swap", "mid-swap", "committed"}
	for _, first := range []bool{true, false} {
		for _, point := range points {
			name := fmt.Sprintf("%s/first=%v", point, first)
			t.Run(name, func(t *testing.T) {
				work := t.TempDir()
				t.Chdir(work)
				out := "out"
				// Both runs read the same paths; the rerun sees the later usage.
				args := inputs(t, "in", false)
				if !first {
					billcons(t, 0, append(args, "--out", out)...)
				}
				args = inputs(t, "in", true)
				args = append(args, "--out", out)
				c := startChild(t, []string{"BILLCONS_PAUSE_AT=" + point}, args...)
				c.waitPaused(t, point)
				c.cmd.Process.Signal(syscall.SIGKILL)
				c.finish(t)

				// What DIR shows now.
				switch {
				case point == "committed":
					// The new version is published; only the cleanup was cut short.
					if d := sameTree(snapshot(t, out), cleanNew); d != "" {
						t.Fatalf("after a kill at %s DIR is not the new version: %s", point, d)
					}
				case first:
					if n := len(snapshot(t, out)); n > 0 {
						t.Fatalf("a first run killed at %s published %d files", point, n)
					}
				default:
					if d := sameTree(snapshot(t, out), cleanOld); d != "" {
						t.Fatalf("after a kill at %s DIR is not the previous version: %s", point, d)
					}
				}
				if point == "committed" || !first {
					billcons(t, 0, "verify", out)
				}
				for _, e := range mustReadDir(t, ".") {
					if e != "in" && e != "out" {
						t.Fatalf("a kill at %s left %s beside DIR", point, e)
					}
				}

				// The next run succeeds, equals a clean run and leaves nothing behind.
				billcons(t, 0, args...)
				billcons(t, 0, "verify", out)
				if d := sameTree(snapshot(t, out), cleanNew); d != "" {
					t.Fatalf("the rerun differs from a clean run: %s", d)
				}
				if s := strays(t, "."); len(s) > 0 {
					t.Fatalf("strays after the rerun: %v", s)
				}
				vs, err := writers.Versions(out)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range vs {
					if _, err := verify.Tree(context.Background(), v.Dir); err != nil {
						t.Fatalf("version %d unreadable after the rerun: %v", v.Number, err)
					}
				}
			})
		}
	}
}

func mustReadDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestFailuresKeepPreviousTree makes a rerun fail in the ways a night can go
// wrong and checks each ends with one clear line, exit 1, the previous tree
// intact and nothing left beside it.
func TestFailuresKeepPreviousTree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	tests := []struct {
		name string
		// fail starts the failing run and returns its exit status and stderr.
		fail func(t *testing.T, args []string) (int, string)
		want string
	}{
		{"disk full", func(t *testing.T, args []string) (int, string) {
			// A file-size limit makes writes fail as on a full disk (EFBIG
			// rather than ENOSPC: a tmpfs needs privileges CI may not have).
			sh := append([]string{"-c", `ulimit -f 16 && exec "$0" "$@"`, os.Args[0]}, args...)
			return runChild(t, "sh", nil, sh...)
		}, "file too large"},
		{"input deleted after hashing", func(t *testing.T, args []string) (int, string) {
			c := startChild(t, []string{"BILLCONS_PAUSE_AT=hashed"}, args...)
			c.waitPaused(t, "hashed")
			os.Remove("in/usage/b.csv")
			c.cmd.Process.Signal(syscall.SIGCONT)
			return c.finish(t)
		}, "in/usage/b.csv: no such file or directory"},
		{"input rewritten while read", func(t *testing.T, args []string) (int, string) {
			c := startChild(t, []string{"BILLCONS_PAUSE_AT=reading"}, args...)
			c.waitPaused(t, "reading")
			f, _ := os.OpenFile("in/usage/a.csv", os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("L9999999,1000000000000001,oss,2024-01,payasyougo,2024-01-01T00:00:00+08:00,2024-01-02T00:00:00+08:00,1,CNY,settled,2024-01-02T02:00:00+08:00,,x,y\n")
			f.Close()
			c.cmd.Process.Signal(syscall.SIGCONT)
			return c.finish(t)
		}, "in/usage/a.csv: changed during the run"},
		{"parent of DIR is a file", func(t *testing.T, args []string) (int, string) {
			os.WriteFile("file", nil, 0o644)
			args = append(args[:len(args)-1:len(args)-1], "file/out")
			return runChild(t, "", nil, args...)
		}, "file/out: not a directory"},
		{"DIR not writable", func(t *testing.T, args []string) (int, string) {
			if os.Geteuid() != 0 {
				os.Chmod(".", 0o555)
				defer os.Chmod(".", 0o755)
				return runChild(t, "", nil, args...)
			}
			// As root, run the child as nobody: it may take the lock, but not
			// create its staging folder in DIR.
			os.Chmod("out/.billcons/lock", 0o666)
			os.Chmod(".", 0o755)
			return runAsNobody(t, args...)
		}, "creating staging folder: permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, before := previousTree(t)

			code, stderr := tt.fail(t, args)
			stderr = strings.TrimSpace(stderr)
			t.Logf("exit %d: %s", code, stderr)
			if code != exitFailed {
				t.Errorf("exit %d, want %d; stderr: %s", code, exitFailed, stderr)
			}
			if !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") > 0 {
				t.Errorf("stderr = %q, want one line containing %q", stderr, tt.want)
			}
			if d := sameTree(snapshot(t, "out"), before); d != "" {
				t.Errorf("the previous tree changed: %s", d)
			}
			billcons(t, 0, "verify", "out")
			if s := strays(t, "."); len(s) > 0 {
				t.Errorf("left beside DIR: %v", s)
			}
		})
	}
}

// runChild runs billcons (or name, with args that start it) to the end.
func runChild(t *testing.T, name string, env []string, args ...string) (int, string) {
	t.Helper()
	if name == "" {
		name = os.Args[0]
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(append(os.Environ(), "BILLCONS_TEST_MAIN=1"), env...)
	return runCmd(t, cmd)
}

// runCmd runs cmd to the end and returns its exit status and stderr.
func runCmd(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), errb.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, errb.String()
}

// runAsNobody runs billcons as user nobody, for the permission tests under
// root (where permission bits do not stop anything). The test binary is
// copied where nobody may run it, and the folders above the working folder
// opened up to it; the caller sets the working folder's own mode.
func runAsNobody(t *testing.T, args ...string) (int, string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "billcons.test")
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, b, 0o755)
	wd, _ := os.Getwd()
	for _, start := range []string{filepath.Dir(bin), filepath.Dir(wd)} {
		for d := start; d != "/"; d = filepath.Dir(d) {
			os.Chmod(d, 0o755)
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "BILLCONS_TEST_MAIN=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return runCmd(t, cmd)
}

// TestOneRunAtATime: a second run on a DIR another run holds says who holds
// it and exits 1 without touching anything; with --wait it runs once the
// first is done; with --wait=DURATION it gives up after that long; and the
// lock of a killed run does not block the next.
func TestOneRunAtATime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	args, before := previousTree(t)

	first := startChild(t, []string{"BILLCONS_PAUSE_AT=reading"}, args...)
	first.waitPaused(t, "reading")
	pid := fmt.Sprintf("pid %d on ", first.cmd.Process.Pid)

	msg := billcons(t, exitFailed, args...)
	if !strings.Contains(msg, "another billcons run is writing it ("+pid) || !strings.Contains(msg, "use --wait") {
		t.Errorf("second run said %q; want the holder, %q", msg, pid)
	}
	msg = billcons(t, exitFailed, append(args, "--wait=300ms")...)
	if !strings.Contains(msg, "still after waiting 300ms") {
		t.Errorf("--wait=300ms said %q", msg)
	}
	if d := sameTree(snapshot(t, "out"), before); d != "" {
		t.Fatalf("a refused run changed DIR: %s", d)
	}
	if s := strays(t, "."); len(s) != 1 { // the first run's staging folder only
		t.Fatalf("beside DIR: %v, want the first run's staging folder only", s)
	}

	// --wait: blocks until the first run is done, then runs.
	done := make(chan string)
	go func() {
		var out, errb strings.Builder
		var loud []string // without --quiet, to see it say that it waits
		for _, a := range args {
			if a != "--quiet" {
				loud = append(loud, a)
			}
		}
		code := Main(context.Background(), append(loud, "--wait"), &out, &errb)
		done <- fmt.Sprintf("%d %s", code, errb.String())
	}()
	select {
	case r := <-done:
		t.Fatalf("--wait returned while the lock was held: %s", r)
	case <-time.After(500 * time.Millisecond):
	}
	first.cmd.Process.Signal(syscall.SIGCONT)
	if code, errs := first.finish(t); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, errs)
	}
	select {
	case r := <-done:
		if !strings.HasPrefix(r, "0 ") || !strings.Contains(r, "waiting for the run holding out ("+pid) {
			t.Fatalf("--wait run: %s", r)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("--wait run did not finish after the lock was released")
	}

	// A killed holder's lock is gone with it.
	killed := startChild(t, []string{"BILLCONS_PAUSE_AT=writing"}, args...)
	killed.waitPaused(t, "writing")
	killed.cmd.Process.Signal(syscall.SIGKILL)
	killed.finish(t)
	billcons(t, 0, args...)
	billcons(t, 0, "verify", "out")
	if s := strays(t, "."); len(s) > 0 {
		t.Fatalf("left beside DIR: %v", s)
	}
}

// TestInterrupted: SIGTERM (what a scheduler sends to stop a job) ends the
// run with exit 1 and one line, and DIR keeps the previous tree.
func TestInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	args, before := previousTree(t)
	c := startChild(t, []string{"BILLCONS_PAUSE_AT=reading"}, args...)
	c.waitPaused(t, "reading")
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.cmd.Process.Signal(syscall.SIGCONT)
	code, msg := c.finish(t)
	if code != exitFailed || msg != "billcons run: interrupted by a signal; out is unchanged" {
		t.Fatalf("exit %d, stderr %q", code, msg)
	}
	if d := sameTree(snapshot(t, "out"), before); d != "" {
		t.Fatalf("DIR changed: %s", d)
	}
	if s := strays(t, "."); len(s) > 0 {
		t.Fatalf("left beside DIR: %v", s)
	}
}

// TestRerunsAreHarmless: the same inputs and options give byte-identical
// bills and summary (CONTRACT.md, invariants); a rerun after more usage
// arrives replaces the tree with one that holds it, and verify accepts it.
func TestRerunsAreHarmless(t *testing.T) {
	t.Chdir(t.TempDir())
	args := append(inputs(t, "in", false), "--out", "out")
	billcons(t, 0, args...)
	first := snapshot(t, "out")
	billcons(t, 0, args...)
	if d := sameTree(snapshot(t, "out"), first); d != "" {
		t.Fatalf("a rerun on the same inputs differs: %s", d)
	}
	args = append(inputs(t, "in", true), "--out", "out")
	billcons(t, 0, args...)
	billcons(t, 0, "verify", "out", "--inputs")
	m, err := writers.ReadManifest("out")
	if err != nil {
		t.Fatal(err)
	}
	if m.Counts.UsageRead != 1687+199 {
		t.Fatalf("after more usage arrived the tree holds %d rows read, want %d", m.Counts.UsageRead, 1687+199)
	}
}

// TestVerifyInterrupted: a signal stops verify with exit 1 and one line
// (it used to be caught and ignored: verify ran on for the half hour a
// tree of 70,000 bills files takes), and leaves nothing behind.
func TestVerifyInterrupted(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("TMPDIR", t.TempDir())
	billcons(t, 0, append(inputs(t, "in", false), "--out", "out")...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as the signal handler does
	var out, errb strings.Builder
	code := Main(ctx, []string{"verify", "out"}, &out, &errb)
	if code != exitFailed || errb.String() != "billcons verify: interrupted by a signal\n" || out.Len() > 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	if left, _ := os.ReadDir(os.Getenv("TMPDIR")); len(left) > 0 {
		t.Fatalf("left in TMPDIR: %v", left)
	}
}

// TestReportAndGenInterrupted: a signal stops report and gen with exit 1
// and one line, as it stops run and verify. Both used to catch it and run
// on: the signal handler covers every command, so a command that ignores
// its context cannot be stopped by Ctrl-C at all.
func TestReportAndGenInterrupted(t *testing.T) {
	t.Chdir(t.TempDir())
	billcons(t, 0, append(inputs(t, "in", false), "--out", "out")...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as the signal handler does
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "out"}, "billcons report: interrupted by a signal\n"},
		{[]string{"gen", "--lines", "100000", "--out", "gen", "--quiet"}, "billcons gen: interrupted by a signal; gen holds part of a dataset\n"},
	} {
		var out, errb strings.Builder
		code := Main(ctx, tt.args, &out, &errb)
		if code != exitFailed || errb.String() != tt.want || out.Len() > 0 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and %q", tt.args[0], code, out.String(), errb.String(), exitFailed, tt.want)
		}
	}
	if files, _ := filepath.Glob("gen/usage/*"); len(files) > 1 {
		t.Errorf("gen wrote %d usage files after the signal", len(files))
	}
}
