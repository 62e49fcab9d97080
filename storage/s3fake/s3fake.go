// Package s3fake is an in-process S3 server for tests (gofakes3 behind an
// httptest server) that also speaks like Alibaba OSS on demand: in OSS mode
// it answers If-None-Match with 501 Not Implemented, as OSS does, and
// honours x-oss-forbid-overwrite instead. Conditional writes are made
// atomic here, so tests of the commit protocol can race them.
package s3fake

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is a running fake.
type Server struct {
	*httptest.Server
	backend *s3mem.Backend
	oss     atomic.Bool
	mu      sync.Mutex // serialises conditional writes
	// Conditional counts the create-only writes answered, by header.
	IfNoneMatch, ForbidOverwrite, NotImplemented atomic.Int64

	faultMu sync.Mutex
	faults  int                        // requests still to fail
	match   func(r *http.Request) bool // which requests fail
	after   bool                       // fail them after doing them
	// Failed counts the requests answered 503 by Fail.
	Failed atomic.Int64

	puts atomic.Int64 // PUTs being answered now
	// MaxPuts is the most PUTs (objects or parts) answered at once.
	MaxPuts  atomic.Int64
	putDelay atomic.Int64 // how long each PUT is held, in nanoseconds
}

// SetPutDelay holds every PUT for d before answering it, as a store far
// away does: uploads made at once then overlap whatever the machine's load.
func (s *Server) SetPutDelay(d time.Duration) { s.putDelay.Store(int64(d)) }

// Fail answers the next n requests that match (nil: any) with 503 SlowDown,
// as a throttling or failing store does.
func (s *Server) Fail(n int, match func(r *http.Request) bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults, s.match, s.after = n, match, false
}

// FailAfter does the next n requests that match (nil: any), then answers
// them 503 instead of with their result: a write whose answer is lost.
func (s *Server) FailAfter(n int, match func(r *http.Request) bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults, s.match, s.after = n, match, true
}

// fails reports whether r is to fail, and whether after being done.
func (s *Server) fails(r *http.Request) (fail, after bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if s.faults == 0 || (s.match != nil && !s.match(r)) {
		return false, false
	}
	s.faults--
	s.Failed.Add(1)
	return true, s.after
}

// Start starts a server with the named buckets.
func Start(buckets ...string) (*Server, error) {
	s := &Server{backend: s3mem.New()}
	for _, b := range buckets {
		if err := s.backend.CreateBucket(b); err != nil {
			return nil, err
		}
	}
	fake := gofakes3.New(s.backend)
	inner := fake.Server()
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(inner, w, r)
	}))
	return s, nil
}

// SetOSS turns OSS mode on or off.
func (s *Server) SetOSS(on bool) { s.oss.Store(on) }

// URL is the s3:// URL of bucket/prefix on this server.
func (s *Server) URL(bucket, prefix string) string {
	return fmt.Sprintf("s3://%s/%s?endpoint=%s&region=us-east-1&use_path_style=true", bucket, strings.Trim(prefix, "/"), s.Server.URL)
}

func (s *Server) serve(inner http.Handler, w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		n := s.puts.Add(1)
		defer s.puts.Add(-1)
		for m := s.MaxPuts.Load(); n > m && !s.MaxPuts.CompareAndSwap(m, n); m = s.MaxPuts.Load() {
		}
		if d := s.putDelay.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
	}
	if fail, after := s.fails(r); fail {
		if after {
			s.serveConditional(inner, httptest.NewRecorder(), r)
		}
		writeError(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
		return
	}
	s.serveConditional(inner, w, r)
}

// serveConditional answers r, making create-only writes atomic (and, in
// OSS mode, speaking as OSS does).
func (s *Server) serveConditional(inner http.Handler, w http.ResponseWriter, r *http.Request) {
	inm := r.Header.Get("If-None-Match")
	forbid := strings.EqualFold(r.Header.Get("x-oss-forbid-overwrite"), "true")
	if r.Method != http.MethodPut || (inm == "" && !forbid) {
		inner.ServeHTTP(w, r)
		return
	}
	if inm != "" && s.oss.Load() {
		s.NotImplemented.Add(1)
		writeError(w, http.StatusNotImplemented, "NotImplemented", "A header you provided implies functionality that is not implemented.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if inm != "" {
		s.IfNoneMatch.Add(1)
		inner.ServeHTTP(w, r)
		return
	}
	s.ForbidOverwrite.Add(1)
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if _, err := s.backend.HeadObject(bucket, key); err == nil {
		writeError(w, http.StatusConflict, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.")
		return
	}
	inner.ServeHTTP(w, r)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}
