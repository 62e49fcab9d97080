// Package s3server gives tests the S3 servers they run against: the
// in-process fake (package s3fake) always, and a real S3-compatible server
// when one is installed: Versity Gateway (github.com/versity/versitygw, a
// production S3 gateway over a POSIX folder), started on a loopback port
// for the test and stopped after it.
//
// BILLCONS_S3_SERVER names the real server's binary (make s3-check builds
// it). Without it the real-server cases are skipped with a line saying how
// to run them, unless BILLCONS_S3_REQUIRE=1, which CI sets: then a missing
// server fails the test instead of skipping it.
//
// BILLCONS_S3_ENDPOINT (with BILLCONS_S3_BUCKET, BILLCONS_S3_REGION or
// AWS_REGION, BILLCONS_S3_QUERY for more URL options, and the credentials
// in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) runs the same cases against a
// store that is already there, such as a real S3 or OSS bucket: every test
// writes under a prefix of its own in that bucket. Such a store cannot be
// stopped, so the outage cases skip on it.
package s3server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billcons/billcons/storage/s3fake"
)

// The credentials every server here takes; Env sets them for the SDK.
const (
	AccessKey = "billcons-test"
	SecretKey = "billcons-test-secret"
)

// Server is one running S3 server.
type Server struct {
	Name     string // "fake" or the real server's name
	Endpoint string // http://127.0.0.1:PORT
	Fake     *s3fake.Server

	bin, root, port string
	bucket, prefix  string // an external store's bucket and this test's prefix in it
	mu              sync.Mutex
	cmd             *exec.Cmd
	log             *syncBuffer
}

// syncBuffer is the server's output, written by its process's copier and
// read by Log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// URL is the s3:// URL of bucket/prefix on the server.
func (s *Server) URL(bucket, prefix string) string {
	bucket, prefix = s.Place(bucket, prefix)
	if s.bucket != "" {
		// An external store: its region comes from AWS_REGION, else
		// BILLCONS_S3_REGION; BILLCONS_S3_QUERY adds to the URL's query
		// (use_path_style=true for MinIO and most S3-compatible servers;
		// OSS wants it left out).
		u := fmt.Sprintf("s3://%s/%s?endpoint=%s&region=%s", bucket, prefix, s.Endpoint, region())
		if q := os.Getenv("BILLCONS_S3_QUERY"); q != "" {
			u += "&" + q
		}
		return u
	}
	return fmt.Sprintf("s3://%s/%s?endpoint=%s&region=us-east-1&use_path_style=true", bucket, strings.Trim(prefix, "/"), s.Endpoint)
}

// Place is where the bucket and prefix of a test are on this server: the
// same, but on an external store, its bucket and the test's own prefix.
func (s *Server) Place(bucket, prefix string) (string, string) {
	prefix = strings.Trim(prefix, "/")
	if s.bucket == "" {
		return bucket, prefix
	}
	return s.bucket, s.prefix + "/" + bucket + "/" + prefix
}

// Stoppable reports whether the test can stop and start the server (a
// real server it started, not an external store).
func (s *Server) Stoppable() bool { return s.bin != "" }

func region() string {
	for _, k := range []string{"AWS_REGION", "BILLCONS_S3_REGION"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "us-east-1"
}

// Env sets the credentials of the servers for the test (and its children),
// but those an external store was given (the fake takes any).
func Env(t testing.TB) {
	if os.Getenv("BILLCONS_S3_ENDPOINT") != "" {
		return
	}
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
}

// Fake starts the in-process fake with the named buckets.
func Fake(t testing.TB, buckets ...string) *Server {
	t.Helper()
	f, err := s3fake.Start(buckets...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	Env(t)
	return &Server{Name: "fake", Endpoint: f.Server.URL, Fake: f}
}

// Required reports whether a missing real server fails tests.
func Required() bool { return os.Getenv("BILLCONS_S3_REQUIRE") == "1" }

// StartReal starts the real server with the named buckets, or skips the
// test (fails it, when Required) when none is installed.
func StartReal(t testing.TB, buckets ...string) *Server {
	t.Helper()
	if ep := os.Getenv("BILLCONS_S3_ENDPOINT"); ep != "" {
		b := os.Getenv("BILLCONS_S3_BUCKET")
		if b == "" {
			t.Fatal("BILLCONS_S3_ENDPOINT needs BILLCONS_S3_BUCKET, the bucket the tests write under")
		}
		return &Server{Name: "external", Endpoint: ep, bucket: b,
			prefix: fmt.Sprintf("billcons-test/%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())}
	}
	bin := os.Getenv("BILLCONS_S3_SERVER")
	if bin == "" {
		if Required() {
			t.Fatal("BILLCONS_S3_REQUIRE=1 but BILLCONS_S3_SERVER names no server binary (make s3-check builds one)")
		}
		t.Skip("no real S3 server: make s3-check runs this against Versity Gateway")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("BILLCONS_S3_SERVER: %v", err)
	}
	s := &Server{Name: filepath.Base(bin), bin: bin, root: t.TempDir()}
	// A free loopback port, held by the server from then on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().String()
	l.Close()
	s.Endpoint = "http://" + s.port
	for _, b := range buckets {
		// The POSIX backend's buckets are the root's folders; creating
		// them through the API needs the server up, so make them first.
		if err := os.MkdirAll(filepath.Join(s.root, b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", s.Name, s.Log())
		}
	})
	Env(t)
	return s
}

// All is the servers a store test runs on: the fake, and the real server
// (when installed, or when Required).
func All(t testing.TB, buckets ...string) []*Server {
	t.Helper()
	all := []*Server{Fake(t, buckets...)}
	if os.Getenv("BILLCONS_S3_SERVER") != "" || os.Getenv("BILLCONS_S3_ENDPOINT") != "" || Required() {
		all = append(all, StartReal(t, buckets...))
	}
	return all
}

// Start starts the real server (again, after Stop) on its port and waits
// until it answers.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil || s.bin == "" {
		return nil
	}
	cmd := exec.Command(s.bin, "--port", s.port, "--quiet", "posix", s.root)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	if s.log == nil {
		s.log = &syncBuffer{}
	}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s on %s did not answer within 20 s:\n%s", s.Name, s.port, s.log)
}

// Stop kills the real server: the store is down until Start.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Log is what the real server printed.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

// Outage stops the real server for d, in the background, and returns a
// channel closed once it is up again.
func (s *Server) Outage(ctx context.Context, d time.Duration) <-chan error {
	done := make(chan error, 1)
	s.Stop()
	go func() {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		done <- s.Start()
		close(done)
	}()
	return done
}
