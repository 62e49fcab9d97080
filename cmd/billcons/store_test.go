package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/storage/s3server"
	"github.com/billcons/billcons/writers"
)

// The tests of a store as operators run it, on the in-process fake and on
// a real S3 server (make s3-check; CI requires it): steps killed and
// raced, a store that fails or goes down under a step, and gc.

// killAt starts a step that stops itself at a checkpoint, and SIGKILLs it
// there: a pod killed mid-step.
func killAt(t *testing.T, point string, env []string, args ...string) {
	t.Helper()
	c := startChild(t, append(env, "BILLCONS_PAUSE_AT="+point), args...)
	c.waitPaused(t, point)
	c.cmd.Process.Kill()
	<-c.waited
}

// latestRun is the run the store's latest version published.
func latestRun(t *testing.T, out string) string {
	t.Helper()
	s, err := storage.Open(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := storage.Latest(context.Background(), s)
	if err != nil || p == nil {
		t.Fatalf("latest of %s: %v %v", out, p, err)
	}
	return p.Run
}

// TestShardedFaults kills and races the steps, as a cluster does, and makes
// the store fail under them, and checks that readers always see a whole
// published run and that the run finally committed equals the single run.
func TestShardedFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dozens of processes")
	}
	inputs := shardInputs(t)
	single := filepath.Join(t.TempDir(), "single")
	mustStep(t, nil, append([]string{"run", "--out", single, "--quiet"}, inputs...)...)
	for _, srv := range s3server.All(t, "bills") {
		t.Run(srv.Name, func(t *testing.T) {
			out := srv.URL("bills", "faults")
			// A previous night's run, published, for readers to keep seeing.
			// The same inputs but the two later usage files.
			prev := append(slices.Clone(inputs[:2]), inputs[6:]...)
			// Its files (small ones: no multipart parts) go up at once: with
			// each PUT held 100 ms, uploads made at once overlap.
			if srv.Fake != nil {
				srv.Fake.SetPutDelay(100 * time.Millisecond)
			}
			mustStep(t, nil, append([]string{"run", "--out", out, "--quiet"}, prev...)...)
			if srv.Fake != nil {
				srv.Fake.SetPutDelay(0)
				if srv.Fake.MaxPuts.Load() < 2 {
					t.Errorf("run --out s3://… uploaded its files one at a time")
				}
			}
			before := latestRun(t, out)

			mustStep(t, nil, append([]string{"plan", "--out", out, "--shards", "3", "--quiet"}, inputs...)...)
			// The store fails under the split (throttling on the fake; down
			// for 12 s on the real server): the step waits it out.
			faults := true
			switch {
			case srv.Fake != nil:
				srv.Fake.Fail(12, nil)
			case srv.Stoppable():
				// Longer than the SDK's own three attempts can wait (up to
				// about 6 s with its jitter), so that billcons' retries are
				// what carries the step over.
				up := srv.Outage(context.Background(), 12*time.Second)
				defer func() { <-up }()
			default:
				faults = false // an external store: no faults to make
			}
			if stderr := mustStep(t, indexEnv(0), "split", "--out", out); faults && !strings.Contains(stderr, "retrying in") {
				t.Errorf("split under a failing store said nothing of retrying:\n%s", stderr)
			}
			// Shard 0 is killed after writing its files, before its record:
			// the retry's files count, the killed attempt's are never read.
			killAt(t, "shard_uploaded", indexEnv(0), "shard", "--out", out)
			// Shard 1 runs twice at once, as when Kubernetes replaces a pod.
			parallel(2, func(int) { mustStep(t, indexEnv(1), "shard", "--out", out) })
			// Shard 2 has not run: commit refuses, naming it, and publishes nothing.
			code, stderr := step(t, nil, "commit", "--out", out)
			if code != 1 || !strings.Contains(stderr, "shard 0, 2 not finished") {
				t.Fatalf("commit with shards 0 and 2 missing: exit %d, %q", code, stderr)
			}
			if got := latestRun(t, out); got != before {
				t.Fatalf("after a refused commit readers see %s; want the previous run %s", got, before)
			}
			mustStep(t, indexEnv(0), "shard", "--out", out)
			mustStep(t, indexEnv(2), "shard", "--out", out)

			// Commit killed before publishing: readers still see the previous run.
			killAt(t, "commit_publishing", nil, "commit", "--out", out)
			if got := latestRun(t, out); got != before {
				t.Fatalf("after a commit killed before publishing readers see %s; want %s", got, before)
			}
			// Killed right after publishing: readers see the new run, whole;
			// a retried commit publishes nothing more.
			killAt(t, "commit_published", nil, "commit", "--out", out)
			if latestRun(t, out) == before {
				t.Fatal("a commit killed after publishing left the previous run visible")
			}
			sameRun(t, single, published(t, out))
			if stderr := mustStep(t, nil, "commit", "--out", out); !strings.Contains(stderr, "already published") {
				t.Errorf("a second commit: %q", stderr)
			}
			s, err := storage.Open(context.Background(), out)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if ptrs, _ := s.List(context.Background(), storage.PublishedPrefix); len(ptrs) != 2 {
				t.Errorf("published pointers %v; want the previous run's and this one's", ptrs)
			}
			// Down for longer than --store-retry: the step fails in one line
			// naming the object, and nothing is published.
			switch {
			case srv.Fake != nil:
				srv.Fake.Fail(1000, nil)
				code, stderr = step(t, nil, "commit", "--out", out, "--store-retry", "2s")
				srv.Fake.Fail(0, nil)
			case srv.Stoppable():
				srv.Stop()
				code, stderr = step(t, nil, "commit", "--out", out, "--store-retry", "2s")
				srv.Start()
			default:
				return
			}
			last := strings.TrimSpace(stderr[strings.LastIndex(strings.TrimSpace(stderr), "\n")+1:])
			if code != 1 || !strings.HasPrefix(last, "billcons commit: ") || !strings.Contains(last, "--store-retry") {
				t.Errorf("a commit on a store down past --store-retry: exit %d, last line %q", code, last)
			}
		})
	}
}

// storeObjects counts the objects (and their bytes) under the store's URL.
func storeObjects(t *testing.T, out, prefix string) (int, int64) {
	t.Helper()
	s, err := storage.Open(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	objs, err := s.ListObjects(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, o := range objs {
		n += o.Size
	}
	return len(objs), n
}

// incompleteUpload begins a multipart upload under out's _runs/ and
// uploads one part, as a writer killed mid-upload leaves it.
func incompleteUpload(t *testing.T, srv *s3server.Server, bucket, key string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(srv.Endpoint)
		o.UsePathStyle = true
	})
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(make([]byte, 5<<20))}); err != nil {
		t.Fatal(err)
	}
}

// TestGC: a store after three nights (a shard attempt killed, one night
// planned and split but never committed, an upload left incomplete) keeps
// everything under a gc with the default grace, as it must while runs
// are under way; with --grace 0s and --keep 1 it keeps exactly the
// latest version's objects, which still verify and answer queries, and a
// second gc finds nothing. --dry-run removes nothing.
func TestGC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dozens of processes")
	}
	in := []string{"--usage", filepath.Join(demo, "usage.csv"), "--changes", filepath.Join(demo, "changes.csv"), "--quiet"}
	late := append([]string{"--usage", filepath.Join(demo, "late")}, in...)
	for _, srv := range s3server.All(t, "bills") {
		t.Run(srv.Name, func(t *testing.T) {
			out := srv.URL("bills", "gc")
			night := func(args []string) {
				mustStep(t, nil, append([]string{"plan", "--out", out, "--shards", "2"}, args...)...)
				mustStep(t, indexEnv(0), "split", "--out", out)
				killAt(t, "shard_uploaded", indexEnv(0), "shard", "--out", out)
				mustStep(t, indexEnv(0), "shard", "--out", out)
				mustStep(t, indexEnv(1), "shard", "--out", out)
				mustStep(t, nil, "commit", "--out", out)
			}
			night(in)
			night(late)
			mustStep(t, nil, append([]string{"run", "--out", out}, late...)...) // a third night, as one run
			// A fourth night planned and split, never committed.
			mustStep(t, nil, append([]string{"plan", "--out", out, "--shards", "2"}, late...)...)
			mustStep(t, indexEnv(0), "split", "--out", out)
			bucket, prefix := srv.Place("bills", "gc")
			incompleteUpload(t, srv, bucket, prefix+"/_data/killed/commit/x/bills/part-00000.parquet")
			objects, objBytes := storeObjects(t, out, "")
			var q bytes.Buffer
			stepOut(t, &q, []string{"BILLCONS_CACHE=" + t.TempDir()}, "query", out, "SELECT count(*) AS n, sum(list_amount) AS s FROM bills")

			// The default grace: every run is younger than a day.
			var so bytes.Buffer
			if code, stderr := stepOut(t, &so, nil, "gc", out, "--keep", "1"); code != 0 || !strings.Contains(stderr, "2 versions, 0 objects") {
				t.Fatalf("gc --keep 1: exit %d\n%s%s", code, &so, stderr)
			}
			if n, _ := storeObjects(t, out, ""); n != objects-2 {
				t.Errorf("gc with the default grace: %d objects; want %d (all but the pointers of versions 1 and 2)", n, objects-2)
			}
			// Dry: the same lines, nothing removed.
			so.Reset()
			code, dry := stepOut(t, &so, nil, "gc", out, "--keep", "1", "--grace", "0s", "--dry-run")
			if code != 0 || !strings.Contains(so.String(), "would remove run ") || !strings.Contains(dry, "would remove 0 versions") {
				t.Fatalf("gc --dry-run: exit %d\n%s%s", code, &so, dry)
			}
			if n, _ := storeObjects(t, out, ""); n != objects-2 {
				t.Errorf("gc --dry-run removed objects: %d left of %d", n, objects-2)
			}
			so.Reset()
			code, done := stepOut(t, &so, nil, "gc", out, "--keep", "1", "--grace", "0s")
			if code != 0 || strings.TrimPrefix(dry, "billcons gc: ") == "" {
				t.Fatalf("gc: exit %d\n%s%s", code, &so, done)
			}
			if want := strings.Replace(dry, "would remove ", "", 1); done != want {
				t.Errorf("gc said\n%s\nafter --dry-run said\n%s", done, dry)
			}
			if !strings.Contains(done, " 1 incomplete upload;") {
				t.Errorf("gc aborted no upload: %s", done)
			}
			// What is left: the latest version's pointer, manifest and files,
			// and _plan.json.
			s, err := storage.Open(context.Background(), out)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			p, err := storage.Latest(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			m, _, err := storage.ManifestOf[writers.Manifest](context.Background(), s, p)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{storage.PointerKey(p.Seq): true, p.Manifest: true, "_plan.json": true}
			for _, o := range m.Outputs {
				want[o.Key] = true
			}
			left, err := s.List(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range left {
				if !want[k] {
					t.Errorf("left after gc: %s, which the kept version does not use", k)
				}
				delete(want, k)
			}
			for k := range want {
				t.Errorf("gc removed %s, which the kept version uses", k)
			}
			if ups, err := s.Uploads(context.Background(), ""); err != nil || len(ups) != 0 {
				t.Errorf("uploads after gc: %v, %v", ups, err)
			}
			after, afterBytes := storeObjects(t, out, "")
			t.Logf("%s: %d objects (%s) before gc, %d (%s) after", srv.Name, objects, storage.SizeText(objBytes), after, storage.SizeText(afterBytes))
			published(t, out)
			var q2 bytes.Buffer
			stepOut(t, &q2, []string{"BILLCONS_CACHE=" + t.TempDir()}, "query", out, "SELECT count(*) AS n, sum(list_amount) AS s FROM bills")
			if q.String() != q2.String() || q.Len() == 0 {
				t.Errorf("the latest version's bills before gc:\n%s\nafter:\n%s", &q, &q2)
			}
			// Nothing more to do.
			if code, again := stepOut(t, nil, nil, "gc", out, "--keep", "1", "--grace", "0s"); code != 0 || !regexp.MustCompile(`0 versions, 0 objects .*, 0 incomplete uploads`).MatchString(again) {
				t.Errorf("a second gc: exit %d, %s", code, again)
			}
		})
	}
}

// TestGCTree: gc on a local tree removes the versions beyond --keep and a
// killed run's leftovers, under the tree's lock; the latest verifies.
func TestGCTree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	in := []string{"--usage", filepath.Join(demo, "usage.csv"), "--changes", filepath.Join(demo, "changes.csv"), "--out", dir, "--quiet"}
	for range 3 {
		billcons(t, 0, append([]string{"run"}, in...)...)
	}
	// A run killed while writing leaves its staging folder.
	killAt(t, "writing", nil, append([]string{"run"}, in...)...)
	stagings, _ := filepath.Glob(filepath.Join(dir, storage.StateDir, "staging-*"))
	if len(stagings) != 1 {
		t.Fatalf("staging folders after a kill: %v", stagings)
	}
	var so bytes.Buffer
	code, stderr := stepOut(t, &so, nil, "gc", dir, "--keep", "1")
	if code != 0 || !strings.Contains(stderr, "kept version 3; 2 versions beyond --keep and 1 left by killed runs") {
		t.Fatalf("gc: exit %d\n%s%s", code, &so, stderr)
	}
	vs, err := writers.Versions(dir)
	if err != nil || len(vs) != 1 || vs[0].Number != 3 {
		t.Fatalf("versions after gc --keep 1: %+v, %v", vs, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, storage.StateDir, "staging-*")); len(left) != 0 {
		t.Errorf("left after gc: %v", left)
	}
	if out := billcons(t, 0, "verify", dir); !strings.Contains(out, "ok") {
		t.Errorf("verify after gc: %s", out)
	}
}
