package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/storage/s3server"
)

// retryLog collects a store's retry lines.
type retryLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *retryLog) log(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func (l *retryLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (l *retryLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// TestRetriesThrottling: a store that answers 503 SlowDown more times (4)
// than the SDK's own three attempts is retried until it answers, within
// --store-retry, for every kind of operation: put, create-only put, get,
// list and a multipart upload whose second part keeps failing. With no
// time to retry, the same faults fail the operation and say so.
func TestRetriesThrottling(t *testing.T) {
	srv := s3server.Fake(t, "bills")
	var log retryLog
	ctx := storage.WithRetry(context.Background(), storage.Retry{For: time.Minute, Log: log.log})
	s, err := storage.Open(ctx, srv.URL("bills", "retry"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big := make([]byte, 24<<20) // three parts of the upload manager's 8 MiB
	rand.Read(big)
	src := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(src, big, 0o644); err != nil {
		t.Fatal(err)
	}
	part2 := func(r *http.Request) bool { return r.URL.Query().Get("partNumber") == "2" }
	for _, c := range []struct {
		name  string
		match func(*http.Request) bool
		op    func() error
	}{
		{"put", nil, func() error { return s.Put(ctx, "a.json", []byte("{}")) }},
		{"create", nil, func() error {
			ok, err := s.Create(ctx, "records/0.json", []byte("{}"))
			if err == nil && !ok {
				err = errors.New("create-only put reported the key taken on its first write")
			}
			return err
		}},
		{"get", nil, func() error {
			b, err := s.Get(ctx, "a.json")
			if err == nil && string(b) != "{}" {
				err = errors.New("read back " + string(b))
			}
			return err
		}},
		{"list", nil, func() error {
			keys, err := s.List(ctx, "")
			if err == nil && len(keys) != 2 {
				err = errors.New("listed " + strings.Join(keys, ","))
			}
			return err
		}},
		{"multipart part 2", part2, func() error {
			if _, err := s.PutFile(ctx, "big.bin", src); err != nil {
				return err
			}
			b, err := s.Get(ctx, "big.bin")
			if err == nil && !bytes.Equal(b, big) {
				err = errors.New("the uploaded object differs from the file")
			}
			return err
		}},
	} {
		before, failed := log.len(), srv.Fake.Failed.Load()
		srv.Fake.Fail(4, c.match)
		if err := c.op(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if n := srv.Fake.Failed.Load() - failed; n != 4 {
			t.Errorf("%s: the store failed %d requests; want 4", c.name, n)
		}
		if log.len() == before {
			t.Errorf("%s: no retry line", c.name)
		}
	}
	if !strings.Contains(log.String(), "503 Service Unavailable; retrying in ") {
		t.Errorf("retry lines:\n%s", &log)
	}
	// No time to retry: the fault is the error, naming the object.
	short, err := storage.Open(storage.WithRetry(context.Background(), storage.Retry{For: time.Millisecond}), srv.URL("bills", "retry"))
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	srv.Fake.Fail(100, nil)
	defer srv.Fake.Fail(0, nil)
	err = short.Put(context.Background(), "b.json", []byte("{}"))
	if err == nil || !strings.Contains(err.Error(), "retry/b.json") || !strings.Contains(err.Error(), "--store-retry") {
		t.Errorf("a store failing past --store-retry: %v", err)
	}
}

// TestRetriesOutage: the real server is down when an upload starts and
// comes back 12 s later (longer than the SDK's own three attempts can
// wait, about 6 s with their jitter); the upload waits for it and completes. Down for
// longer than --store-retry, the step fails naming the object and the
// refused connection.
func TestRetriesOutage(t *testing.T) {
	srv := s3server.StartReal(t, "bills")
	if !srv.Stoppable() {
		t.Skip("an external store cannot be stopped")
	}
	var log retryLog
	ctx := storage.WithRetry(context.Background(), storage.Retry{For: time.Minute, Log: log.log})
	s, err := storage.Open(ctx, srv.URL("bills", "outage"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(ctx, "before.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	up := srv.Outage(ctx, 12*time.Second)
	start := time.Now()
	if ok, err := s.Create(ctx, "records/0.json", []byte("{}")); err != nil || !ok {
		t.Fatalf("create during an outage: %v, %v", ok, err)
	}
	if err := <-up; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 12*time.Second {
		t.Errorf("the write returned after %s, before the store was back", took)
	}
	if !strings.Contains(log.String(), "connection refused") {
		t.Errorf("retry lines:\n%s", &log)
	}
	// Down for good, with 1 s to retry.
	srv.Stop()
	defer srv.Start()
	short, err := storage.Open(storage.WithRetry(context.Background(), storage.Retry{For: time.Second}), srv.URL("bills", "outage"))
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	_, err = short.Get(context.Background(), "before.json")
	if err == nil || !strings.Contains(err.Error(), "outage/before.json") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("a store down past --store-retry: %v", err)
	}
}

// TestCreateAnswerLost: a create-only write that the store did but whose
// answer was lost (503 after the write) is tried again, finds the object
// there, and reads it back: it is this write's, so the create reports it
// won (a step that took its own record for another attempt's would remove
// the files the record names). Another writer's bytes there still lose.
// On S3 (If-None-Match) and OSS (x-oss-forbid-overwrite) alike.
func TestCreateAnswerLost(t *testing.T) {
	srv := s3server.Fake(t, "bills")
	for _, oss := range []bool{false, true} {
		srv.Fake.SetOSS(oss)
		ctx := storage.WithRetry(context.Background(), storage.Retry{For: time.Minute})
		s, err := storage.Open(ctx, srv.URL("bills", fmt.Sprintf("lost-%v", oss)))
		if err != nil {
			t.Fatal(err)
		}
		// A first create, for the store to find out how the server
		// creates (OSS answers If-None-Match with 501).
		if ok, err := s.Create(ctx, "plan.json", []byte("{}")); err != nil || !ok {
			t.Fatal(ok, err)
		}
		put := func(r *http.Request) bool { return r.Method == http.MethodPut }
		srv.Fake.FailAfter(1, put)
		ok, err := s.Create(ctx, "shards/0.json", []byte(`{"attempt":"a"}`))
		if err != nil || !ok {
			t.Errorf("oss=%v: a create whose answer was lost: %v, %v; want true", oss, ok, err)
		}
		if got, _ := s.Get(ctx, "shards/0.json"); string(got) != `{"attempt":"a"}` {
			t.Errorf("oss=%v: the record holds %s", oss, got)
		}
		srv.Fake.FailAfter(1, put)
		if ok, err := s.Create(ctx, "shards/0.json", []byte(`{"attempt":"b"}`)); err != nil || ok {
			t.Errorf("oss=%v: another attempt's create: %v, %v; want false", oss, ok, err)
		}
		s.Close()
	}
}
