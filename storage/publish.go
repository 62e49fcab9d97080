package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
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

// PointerKey is the key of version seq's pointer.
func PointerKey(seq int64) string { return pointerKey(seq) }

func pointerKey(seq int64) string { return fmt.Sprintf("%s%020d.json", PublishedPrefix, seq) }

// Latest returns the newest published run, or nil when none is.
func Latest(ctx context.Context, s *Store) (*Pointer, error) {
	seqs, err := pointerSeqs(ctx, s)
	if err != nil || len(seqs) == 0 {
		return nil, err
	}
	return At(ctx, s, seqs[len(seqs)-1])
}

// Pointers returns every published run, oldest first: the store's
// versions, numbered by their Seq.
func Pointers(ctx context.Context, s *Store) ([]Pointer, error) {
	seqs, err := pointerSeqs(ctx, s)
	if err != nil {
		return nil, err
	}
	ps := make([]Pointer, 0, len(seqs))
	for _, seq := range seqs {
		p, err := At(ctx, s, seq)
		if err != nil {
			return nil, err
		}
		ps = append(ps, *p)
	}
	return ps, nil
}

// At returns the run published as seq; an error wrapping [ErrNotExist]
// when there is none.
func At(ctx context.Context, s *Store, seq int64) (*Pointer, error) {
	b, err := s.Get(ctx, pointerKey(seq))
	if err != nil {
		return nil, err
	}
	var p Pointer
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name(pointerKey(seq)), err)
	}
	return &p, nil
}

// pointerSeqs are the published sequence numbers, ascending.
func pointerSeqs(ctx context.Context, s *Store) ([]int64, error) {
	keys, err := s.List(ctx, PublishedPrefix)
	if err != nil {
		return nil, err
	}
	var seqs []int64
	for _, k := range keys {
		name := strings.TrimSuffix(strings.TrimPrefix(k, PublishedPrefix), ".json")
		if n, err := strconv.ParseInt(name, 10, 64); err == nil {
			seqs = append(seqs, n)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// ManifestOf reads the manifest of published run p into an M (the
// writers' Manifest: storage stays below writers and knows only where the
// manifest is), and its bytes.
func ManifestOf[M any](ctx context.Context, s *Store, p *Pointer) (*M, []byte, error) {
	b, err := s.Get(ctx, p.Manifest)
	if err != nil {
		return nil, nil, err
	}
	var m M
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.Name(p.Manifest), err)
	}
	return &m, b, nil
}

// outputsOf is what Fetch reads of a manifest: where each output file is.
type outputsOf struct {
	Outputs []struct {
		Path string `json:"path"`
		Key  string `json:"key"`
	} `json:"outputs"`
}

// ErrMoved is returned by [PublishOn] when another command published
// after the version the caller started from.
var ErrMoved = errors.New("another command published a version meanwhile")

// PublishOn is [Publish] that publishes only as the version after base
// (0: none), the latest when the caller began: two commands never
// overwrite each other's work. A run that is already the latest (an
// attempt that lost to another attempt of the same run) reports false.
func PublishOn(ctx context.Context, s *Store, run, manifestKey string, base int64) (*Pointer, bool, error) {
	p := &Pointer{Seq: base + 1, Run: run, Manifest: manifestKey, PublishedAt: time.Now().UTC().Format(time.RFC3339Nano)}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, false, err
	}
	ok, err := s.Create(ctx, pointerKey(p.Seq), b)
	if err != nil || ok {
		return p, ok, err
	}
	last, err := Latest(ctx, s)
	if err != nil {
		return nil, false, err
	}
	if last != nil && last.Run == run {
		return last, false, nil
	}
	return nil, false, fmt.Errorf("%w (version %d, run %s); nothing published", ErrMoved, last.Seq, last.Run)
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

// storeNames are the names a store folder holds at its top.
var storeNames = map[string]bool{"_plan.json": true, "_runs": true, "_data": true, strings.TrimSuffix(PublishedPrefix, "/"): true}

// CheckStoreFolder reports whether u may become a store that runs publish
// to: a URL (a bucket prefix is written under _runs/, _data/ and
// _published/ only), an absent or empty folder, or a folder that is a
// store already. A billcons tree (billcons run --out DIR) is refused, as
// is a folder holding anything else: billcons never mixes its files into
// someone else's.
func CheckStoreFolder(u string) error {
	if IsURL(u) {
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme != "file" {
			return nil
		}
		u = pu.Path
	}
	entries, err := os.ReadDir(u)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--out %s: %w", u, UnwrapPath(err))
	}
	if IsTree(u) {
		return fmt.Errorf("--out %s: %w: it is a billcons tree (written by billcons run --out), and a sharded run publishes to a store; give an empty folder or a bucket URL", u, ErrNotOurs)
	}
	for _, e := range entries {
		if !storeNames[e.Name()] {
			return fmt.Errorf("--out %s: %w: the folder holds %s, not a store's files; give an empty folder or a bucket URL", u, ErrNotOurs, e.Name())
		}
	}
	return nil
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
	return MaterializeAt(ctx, u, cache, 0)
}

// MaterializeAt is [Materialize] for the run published as seq (0: the
// newest).
func MaterializeAt(ctx context.Context, u, cache string, seq int64) (string, error) {
	if !IsURL(u) && !IsPublished(u) {
		return u, nil
	}
	s, err := Open(ctx, u)
	if err != nil {
		return "", err
	}
	defer s.Close()
	var p *Pointer
	if seq == 0 {
		p, err = Latest(ctx, s)
	} else if p, err = At(ctx, s, seq); errors.Is(err, ErrNotExist) {
		return "", fmt.Errorf("%s: version %d is not published", u, seq)
	}
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
	m, b, err := ManifestOf[outputsOf](ctx, s, p)
	if err != nil {
		return "", err
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
