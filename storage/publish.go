package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/billcons/billcons/writers"
)

// PublishedPrefix holds the published pointers, one per published run:
// _published/SEQ.json with SEQ zero-padded, so the newest sorts last.
const PublishedPrefix = "_published/"

// Pointer is one published run: the manifest a reader resolves every file
// through.
type Pointer struct {
	Seq         int64  `json:"seq"`
	Run         string `json:"run"`
	Manifest    string `json:"manifest"` // its key
	PublishedAt string `json:"published_at"`
}

func pointerKey(seq int64) string { return fmt.Sprintf("%s%020d.json", PublishedPrefix, seq) }

// Latest returns the newest published run, or nil when none is.
func Latest(ctx context.Context, s *Store) (*Pointer, error) {
	keys, err := s.List(ctx, PublishedPrefix)
	if err != nil {
		return nil, err
	}
	for i := len(keys) - 1; i >= 0; i-- {
		name := strings.TrimSuffix(strings.TrimPrefix(keys[i], PublishedPrefix), ".json")
		if _, err := strconv.ParseInt(name, 10, 64); err != nil {
			continue // not a pointer
		}
		b, err := s.Get(ctx, keys[i])
		if err != nil {
			return nil, err
		}
		var p Pointer
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name(keys[i]), err)
		}
		return &p, nil
	}
	return nil, nil
}

// Publish makes run, whose manifest is at manifestKey, the newest published
// run with a create-only pointer: until the pointer exists, readers see the
// previous run; once it does, this one, whole. Publishing a run that is
// already the newest does nothing and reports false.
func Publish(ctx context.Context, s *Store, run, manifestKey string) (*Pointer, bool, error) {
	for {
		last, err := Latest(ctx, s)
		if err != nil {
			return nil, false, err
		}
		seq := int64(1)
		if last != nil {
			if last.Run == run {
				return last, false, nil
			}
			seq = last.Seq + 1
		}
		p := &Pointer{Seq: seq, Run: run, Manifest: manifestKey, PublishedAt: time.Now().UTC().Format(time.RFC3339Nano)}
		b, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return nil, false, err
		}
		ok, err := s.Create(ctx, pointerKey(seq), b)
		if err != nil {
			return nil, false, err
		}
		if ok {
			return p, true, nil
		}
		// Another run published seq first: look again.
	}
}

// IsPublished reports whether dir is a local folder that holds published
// runs (written by a sharded run, or by run --out URL) rather than a tree.
func IsPublished(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, strings.TrimSuffix(PublishedPrefix, "/")))
	return err == nil && st.IsDir()
}

// Materialize makes the newest published run at u a local tree and returns
// its folder: u itself when it is a tree already. It fetches exactly the
// files the run's manifest lists, by their keys, into a cache folder under
// cache (one folder per run, reused), so DuckDB and verify read them as
// they read any tree.
func Materialize(ctx context.Context, u, cache string) (string, error) {
	if !IsURL(u) && !IsPublished(u) {
		return u, nil
	}
	s, err := Open(ctx, u)
	if err != nil {
		return "", err
	}
	defer s.Close()
	p, err := Latest(ctx, s)
	if err != nil {
		return "", err
	}
	if p == nil {
		return "", fmt.Errorf("%s: no published run (nothing committed yet)", u)
	}
	h := sha256.Sum256([]byte(u))
	dir := filepath.Join(cache, hex.EncodeToString(h[:8]), p.Run)
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err == nil {
		return dir, nil
	}
	b, err := s.Get(ctx, p.Manifest)
	if err != nil {
		return "", err
	}
	var m writers.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("%s: %w", s.Name(p.Manifest), err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".fetch-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for _, o := range m.Outputs {
		if o.Key == "" {
			return "", fmt.Errorf("%s: output %s has no key", s.Name(p.Manifest), o.Path)
		}
		if _, err := s.GetFile(ctx, o.Key, filepath.Join(tmp, filepath.FromSlash(o.Path))); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "manifest.json"), b, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "manifest.json")); serr == nil {
			return dir, nil // fetched at once by another reader
		}
		return "", err
	}
	return dir, nil
}
