package shards

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/billcons/billcons/pipeline"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/writers"
)

// SplitRecord is _runs/RUN/splits/I.json: what split I read and wrote.
type SplitRecord struct {
	Index   int         `json:"index"`
	Attempt string      `json:"attempt"`
	Files   []SplitFile `json:"files"`
}

// SplitFile is one usage file as a split step read it.
type SplitFile struct {
	File   int                   `json:"file"` // its index in Plan.Usage
	Header []string              `json:"header"`
	Kinds  []readers.ColumnKind  `json:"kinds,omitempty"` // a Parquet file's column types
	Typed  []readers.TypedColumn `json:"typed,omitempty"` // the columns its rows carry as integers
	Input  writers.Input         `json:"input"`           // hashed, for the manifest
	// Shards are the keys of its rows per shard; a shard with none of its
	// rows has no key.
	Shards map[int]SplitBucket `json:"shards"`
}

// SplitBucket is one (file, shard)'s rows.
type SplitBucket struct {
	Key   string `json:"key"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// ShardOf is the shard of a member: FNV-1a (64-bit) of its account_id,
// modulo n. Computed inline: it runs once per usage row.
func ShardOf(account string, n int) int {
	h := uint64(14695981039346656037)
	for i := 0; i < len(account); i++ {
		h ^= uint64(account[i])
		h *= 1099511628211
	}
	return int(h % uint64(n))
}

// Split is `billcons split`: it reads the usage files of part index and
// writes each row to its member's shard. A row with no account goes to
// shard 0, where it is rejected as it would be in a single run.
func Split(ctx context.Context, st *Step, index int) error {
	s, p, err := openRun(ctx, st)
	if err != nil {
		return err
	}
	defer s.Close()
	if index < 0 || index >= p.Splits {
		return fmt.Errorf("split index %d: the plan has splits 0 to %d", index, p.Splits-1)
	}
	cfg, err := st.Config(p.Options)
	if err != nil {
		return err
	}
	opts := readers.UsageOptions{Profile: cfg.Profile, Zone: cfg.Zone, Currency: cfg.Currency}
	recKey := fmt.Sprintf("%s/splits/%d.json", runDir(p.Run), index)
	if ok, err := s.Exists(ctx, recKey); err != nil || ok {
		if ok {
			st.logf("split %d of run %s: already done", index, p.Run)
		}
		return err
	}
	tmp, err := os.MkdirTemp("", "billcons-split-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	attempt := newID()
	rec := SplitRecord{Index: index, Attempt: attempt}
	var written []string
	for fi := index; fi < len(p.Usage); fi += p.Splits {
		sf, keys, err := splitFile(ctx, s, p, opts, index, fi, attempt, tmp)
		written = append(written, keys...)
		if err != nil {
			removeAll(ctx, s, written)
			return err
		}
		rec.Files = append(rec.Files, *sf)
		st.logf("split %d: %s: %d rows", index, p.Usage[fi], sf.Input.Rows)
	}
	b, err := json.MarshalIndent(rec, "", " ")
	if err != nil {
		return err
	}
	ok, err := s.Create(ctx, recKey, b)
	if err != nil {
		return err
	}
	if !ok {
		// Another attempt of this split was recorded first: its rows count,
		// these are never read.
		removeAll(ctx, s, written)
		st.logf("split %d: another attempt was recorded first; this attempt's files removed", index)
	}
	return nil
}

func removeAll(ctx context.Context, s *storage.Store, keys []string) {
	for _, k := range keys {
		s.Delete(context.WithoutCancel(ctx), k)
	}
}

// splitFile splits one usage file.
func splitFile(ctx context.Context, s *storage.Store, p *Plan, opts readers.UsageOptions, index, fi int, attempt, tmp string) (*SplitFile, []string, error) {
	name := p.Usage[fi]
	local, err := fetchUsage(ctx, name, filepath.Join(tmp, fmt.Sprint(fi)))
	if err != nil {
		return nil, nil, err
	}
	in, err := pipeline.HashInput("usage", local)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	in.Path = name
	t, err := readers.Open(local)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	defer t.Close()
	t = readers.Renamed(t, name)
	sf := &SplitFile{File: fi, Header: slices.Clone(t.Header()), Shards: map[int]SplitBucket{}}
	if k, ok := t.(interface{ Kinds() []readers.ColumnKind }); ok {
		sf.Kinds = k.Kinds()
	}
	// The decoder finds the account as the shard will read it, and checks
	// the header as a run does.
	var extras readers.ExtraColumns
	dec, err := readers.NewUsageDecoderWith(t, &extras, opts)
	if err != nil {
		return nil, nil, err
	}
	// The shard's decoder reads the columns it reads as integers from
	// integers, as a run's does: they are not rendered here to be parsed
	// there.
	readers.DeliverTyped(t, dec.TypedColumns())
	sf.Typed = readers.TypedColumnsOf(t)
	type out struct {
		key string
		f   *os.File
		w   *rowWriter
	}
	outs := make([]*out, p.Shards)
	var keys []string
	defer func() {
		for _, o := range outs {
			if o != nil {
				o.f.Close()
			}
		}
	}()
	err = readers.Each(ctx, t, func(row *readers.Row) error {
		in.Rows++
		j := ShardOf(dec.Account(row), p.Shards)
		o := outs[j]
		if o == nil {
			f, err := os.Create(filepath.Join(tmp, fmt.Sprintf("%d-%d.rows", fi, j)))
			if err != nil {
				return err
			}
			o = &out{key: fmt.Sprintf("%s/splits/%d/%s/f%05d-s%05d.rows", runDir(p.Run), index, attempt, fi, j), f: f, w: newRowWriter(f)}
			outs[j] = o
		}
		return o.w.write(row)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	// The shards' files go up Uploads at a time (a split of many shards
	// writes one per shard).
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(Uploads)
	sizes := make([]int64, len(outs)) // each upload writes its own
	for j, o := range outs {
		if o == nil {
			continue
		}
		if err := o.w.close(); err != nil {
			return nil, keys, err
		}
		if err := o.f.Close(); err != nil {
			return nil, keys, err
		}
		keys = append(keys, o.key)
		g.Go(func() error {
			var err error
			sizes[j], err = s.MoveFile(gctx, o.key, o.f.Name())
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, keys, err
	}
	for j, o := range outs {
		if o != nil {
			sf.Shards[j] = SplitBucket{Key: o.key, Rows: o.w.rows, Bytes: sizes[j]}
		}
	}
	sf.Input = in
	return sf, keys, nil
}

// fetchUsage makes one usage file (its name in the plan) local.
func fetchUsage(ctx context.Context, name, dir string) (string, error) {
	if !storage.IsURL(name) {
		return name, nil
	}
	path, query, _ := strings.Cut(name, "?") // the member is in the path, the store's options in the query
	archive := readers.ArchivePath(path)
	if query != "" {
		archive += "?" + query
	}
	l, err := localize(ctx, []string{archive}, dir)
	if err != nil {
		return "", err
	}
	for _, f := range l.files {
		if l.name(f) == name {
			return f, nil
		}
	}
	return "", fmt.Errorf("%s: not found", name)
}
