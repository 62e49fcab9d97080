package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/storage/s3fake"
	"github.com/billcons/billcons/storage/s3server"
)

// stores opens one store of every kind the commit protocol runs on.
// With a real S3 server installed (make s3-check), it is one of them.
func stores(t *testing.T) map[string]string {
	t.Helper()
	oss := s3server.Fake(t, "oss")
	oss.Fake.SetOSS(true)
	all := map[string]string{
		"local": t.TempDir(),
		"file":  "file://" + filepath.ToSlash(t.TempDir()),
		"mem":   "mem://" + t.Name(),
		"oss":   oss.URL("oss", "runs"),
	}
	for _, srv := range s3server.All(t, "bills") {
		all["s3-"+srv.Name] = srv.URL("bills", "runs/nightly")
	}
	return all
}

// TestCreateOnlyOnce: of many create-only writes of one key at once, on
// every kind of store (S3 with If-None-Match, OSS with
// x-oss-forbid-overwrite after its 501), exactly one succeeds and its data
// stays.
func TestCreateOnlyOnce(t *testing.T) {
	ctx := context.Background()
	for kind, u := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			s, err := storage.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for round := range 3 {
				key := fmt.Sprintf("records/%d.json", round)
				var wg sync.WaitGroup
				won := make([]bool, 8)
				errs := make([]error, 8)
				for i := range won {
					wg.Add(1)
					go func() {
						defer wg.Done()
						won[i], errs[i] = s.Create(ctx, key, []byte(fmt.Sprint(i)))
					}()
				}
				wg.Wait()
				winner := -1
				for i, ok := range won {
					if errs[i] != nil {
						t.Fatalf("attempt %d: %v", i, errs[i])
					}
					if ok {
						if winner >= 0 {
							t.Fatalf("attempts %d and %d both created %s", winner, i, key)
						}
						winner = i
					}
				}
				if winner < 0 {
					t.Fatalf("no attempt created %s", key)
				}
				got, err := s.Get(ctx, key)
				if err != nil || string(got) != fmt.Sprint(winner) {
					t.Fatalf("%s holds %q, %v; want the winner's %d", key, got, err, winner)
				}
			}
			// A plain write still replaces.
			if err := s.Put(ctx, "plain", []byte("a")); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(ctx, "plain", []byte("b")); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Get(ctx, "plain"); string(got) != "b" {
				t.Fatalf("plain write: %q", got)
			}
		})
	}
}

// TestOSSModeUsesForbidOverwrite checks the fake behaves like OSS and the
// store switched headers: the fake answered If-None-Match with 501 once,
// and every later create used x-oss-forbid-overwrite.
func TestOSSModeUsesForbidOverwrite(t *testing.T) {
	ctx := context.Background()
	srv, err := s3fake.Start("oss")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	srv.SetOSS(true)
	s, err := storage.Open(ctx, srv.URL("oss", "p"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		ok, err := s.Create(ctx, "k", []byte{byte(i)})
		if err != nil || ok != (i == 0) {
			t.Fatalf("create %d: %v, %v", i, ok, err)
		}
	}
	if n := srv.NotImplemented.Load(); n != 1 {
		t.Errorf("501 answered %d times; want once, then x-oss-forbid-overwrite", n)
	}
	if n := srv.ForbidOverwrite.Load(); n != 3 {
		t.Errorf("x-oss-forbid-overwrite used %d times; want 3", n)
	}
}

// TestPublishAndMaterialize: readers see nothing before a publish, the
// newest run after, and a second publish of the same run changes nothing.
func TestPublishAndMaterialize(t *testing.T) {
	ctx := context.Background()
	for kind, u := range stores(t) {
		if kind == "mem" {
			continue // Materialize opens its own store: fine, but mem is per process
		}
		t.Run(kind, func(t *testing.T) {
			s, err := storage.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := storage.Materialize(ctx, u, t.TempDir()); err == nil && kind != "local" {
				t.Fatal("materialized a store with nothing published")
			}
			for _, run := range []string{"r1", "r2"} {
				if err := s.Put(ctx, "_runs/"+run+"/a.txt", []byte(run)); err != nil {
					t.Fatal(err)
				}
				m := fmt.Sprintf(`{"program":"billcons","outputs":[{"path":"a.txt","key":"_runs/%s/a.txt"}]}`, run)
				if err := s.Put(ctx, "_runs/"+run+"/manifest.json", []byte(m)); err != nil {
					t.Fatal(err)
				}
				p, ok, err := storage.Publish(ctx, s, run, "_runs/"+run+"/manifest.json")
				if err != nil || !ok {
					t.Fatalf("publish %s: %v %v", run, ok, err)
				}
				if _, again, _ := storage.Publish(ctx, s, run, "_runs/"+run+"/manifest.json"); again {
					t.Fatalf("%s published twice", run)
				}
				dir, err := storage.Materialize(ctx, u, t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				if filepath.Base(dir) != run || p.Run != run {
					t.Fatalf("materialized %s; want %s", dir, run)
				}
			}
		})
	}
}

// TestMoveFile: a moved file is at its key, whole, and gone from where it
// was, on every store; a local store renames it when the key is stored as
// itself, and copies it otherwise (fileblob escapes "__0x").
func TestMoveFile(t *testing.T) {
	ctx := context.Background()
	for name, u := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s, err := storage.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for key, plain := range map[string]bool{"bills/cycle=2026-01/payer=m-1/part-00000.parquet": true, "odd/a__0x41b.txt": false} {
				src := filepath.Join(t.TempDir(), "f")
				data := []byte("moved " + key)
				if err := os.WriteFile(src, data, 0o644); err != nil {
					t.Fatal(err)
				}
				var ino uint64
				if st, err := os.Stat(src); err == nil {
					ino = inode(st)
				}
				n, err := s.MoveFile(ctx, key, src)
				if err != nil {
					t.Fatal(err)
				}
				if n != int64(len(data)) {
					t.Errorf("%s: moved %d bytes, want %d", key, n, len(data))
				}
				if _, err := os.Stat(src); !os.IsNotExist(err) {
					t.Errorf("%s: the source is still there (%v)", key, err)
				}
				got, err := s.Get(ctx, key)
				if err != nil || string(got) != string(data) {
					t.Fatalf("%s: read back %q, %v", key, got, err)
				}
				if s.Local() != "" {
					st, err := os.Stat(filepath.Join(s.Local(), filepath.FromSlash(key)))
					if renamed := err == nil && inode(st) == ino; renamed != plain {
						t.Errorf("%s: renamed = %v, want %v", key, renamed, plain)
					}
				}
			}
		})
	}
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// TestFolderOnAnotherFileSystem: a folder store on another file system
// than the temporary folder (a mounted volume; here TMPDIR in /dev/shm)
// takes every kind of write. fileblob's default, a temporary file renamed
// into place, failed there with "invalid cross-device link".
func TestFolderOnAnotherFileSystem(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tmp, err := os.MkdirTemp("/dev/shm", "billcons-tmp-")
	if err != nil {
		t.Skip("no /dev/shm:", err)
	}
	defer os.RemoveAll(tmp)
	if device(t, tmp) == device(t, dir) {
		t.Skip("/dev/shm and", dir, "are one file system")
	}
	t.Setenv("TMPDIR", tmp)
	s, err := storage.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(ctx, "_runs/r/plan.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Create(ctx, "_runs/r/splits/0.json", []byte("{}")); !ok || err != nil {
		t.Fatalf("Create = %v, %v", ok, err)
	}
	src := filepath.Join(tmp, "f")
	if err := os.WriteFile(src, []byte("rows"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A key fileblob escapes is copied through fileblob, not renamed.
	if _, err := s.MoveFile(ctx, "odd/a__0x41b.rows", src); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"_runs/r/plan.json", "_runs/r/splits/0.json", "odd/a__0x41b.rows"} {
		if _, err := s.Get(ctx, k); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
}

func device(t *testing.T, p string) uint64 {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(st.Sys().(*syscall.Stat_t).Dev)
}

// TestLargeObjects: a file larger than the upload manager's parts goes up
// as a multipart upload and comes back whole, on every store; none is left
// incomplete.
func TestLargeObjects(t *testing.T) {
	ctx := context.Background()
	big := make([]byte, 20<<20+12345)
	rand.Read(big)
	src := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(src, big, 0o644); err != nil {
		t.Fatal(err)
	}
	for kind, u := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			s, err := storage.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if n, err := s.PutFile(ctx, "_runs/r/big.parquet", src); err != nil || n != int64(len(big)) {
				t.Fatalf("PutFile: %d bytes, %v", n, err)
			}
			dst := filepath.Join(t.TempDir(), "back")
			if _, err := s.GetFile(ctx, "_runs/r/big.parquet", dst); err != nil {
				t.Fatal(err)
			}
			back, err := os.ReadFile(dst)
			if err != nil || !bytes.Equal(back, big) {
				t.Fatalf("read back %d bytes (%v); they differ from the %d uploaded", len(back), err, len(big))
			}
			if ups, err := s.Uploads(ctx, ""); err != nil || len(ups) != 0 {
				t.Errorf("incomplete uploads left: %v %v", ups, err)
			}
		})
	}
}

// TestNameRedactsSecrets: an object's name keeps the store's options and
// drops any query parameter that carries a secret.
func TestNameRedactsSecrets(t *testing.T) {
	s, err := storage.Open(context.Background(), "mem://redact?endpoint=http://h:9&region=r&X-Amz-Signature=abc&x-amz-security-token=t&secret_access_key=s&use_path_style=true")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Name("_runs/r/plan.json")
	if want := "mem://redact/_runs/r/plan.json?endpoint=http://h:9&region=r&use_path_style=true"; got != want {
		t.Errorf("Name = %s; want %s", got, want)
	}
}

// TestMissingBucket: listing a bucket that is not there says so, and is a
// missing thing (fs.ErrNotExist) to callers.
func TestMissingBucket(t *testing.T) {
	srv := s3server.Fake(t, "bills")
	s, err := storage.Open(context.Background(), srv.URL("nobucket", "p"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.List(context.Background(), "_published/")
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasSuffix(err.Error(), ": no such bucket") {
		t.Errorf("listing a missing bucket: %v", err)
	}
}
