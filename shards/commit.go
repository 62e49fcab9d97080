package shards

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/billcons/billcons/pipeline"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/writers"
)

// ErrNotFinished is returned by Commit when a split or shard has no record.
var ErrNotFinished = errors.New("not finished")

// Committed is what Commit did.
type Committed struct {
	Pointer   *storage.Pointer
	Published bool // false when the run was already the newest published
	Result    *pipeline.Result
	Repaired  []int // shards run again for ids read in more than one shard
}

// Commit is `billcons commit`: it checks every shard's record, judges the
// line ids read in more than one shard, settles the credits over all the
// statement rows, writes the alerts, the rejects and the manifest, and
// publishes the run last.
func Commit(ctx context.Context, st *Step) (*Committed, error) {
	s, p, err := openRun(ctx, st)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	last, err := storage.Latest(ctx, s)
	if err != nil {
		return nil, err
	} else if last != nil && last.Run == p.Run {
		st.logf("run %s is already published (%s)", p.Run, last.Manifest)
		return &Committed{Pointer: last}, nil
	}
	recs, err := loadSplits(ctx, s, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w; nothing published", ErrNotFinished, err)
	}
	files, err := filesOf(p, recs)
	if err != nil {
		return nil, err
	}
	shards, err := loadShards(ctx, s, p)
	if err != nil {
		return nil, err
	}
	out := &Committed{}
	foreign, affected, err := crossShardIDs(ctx, s, shards)
	if err != nil {
		return nil, err
	}
	if out.Repaired, err = repairShards(ctx, st, s, p, files, shards, affected, foreign); err != nil {
		return nil, err
	}
	// Nothing lost between the steps: every row a split step handed on was
	// read by the shard it went to.
	var split, read int64
	for _, f := range files {
		split += f.Input.Rows
	}
	for _, r := range shards {
		read += r.Counts.UsageRead
	}
	if split != read {
		return nil, fmt.Errorf("run %s: the splits read %d usage rows but the shards %d; nothing published", p.Run, split, read)
	}
	if len(affected) > 0 {
		st.logf("commit: %d line ids were read in more than one shard; shards %v judged them again", len(foreign), affected)
	}

	cfg, tmp, err := stepConfig(ctx, st, s, p, "commit")
	defer os.RemoveAll(tmp) // "" when it was not made: removes nothing
	if err != nil {
		return nil, err
	}
	ci, err := commitInput(ctx, st, s, p, files, shards, tmp, cfg)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ci.Bills, func(a, b writers.Output) int { return strings.Compare(a.Path, b.Path) })
	cfg.Commit = ci
	cfg.ViewsDir = st.Out
	if st.Base != nil && last != nil {
		// The guards compare with the latest published version.
		if cfg.GuardBase, err = st.Base(ctx, last.Seq); err != nil {
			return nil, err
		}
		cfg.GuardBaseVersion = last.Seq
	}
	if st.Guard != nil {
		guard := st.Guard(p.Options)
		cfg.Guard = func(ctx context.Context, g *pipeline.GuardInput) error {
			if err := fetchChanged(ctx, s, g); err != nil {
				return err
			}
			return guard(ctx, g)
		}
	}
	res, err := pipeline.Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res.Manifest.Options["out"] = storage.RedactURL(st.Out)
	res.Manifest.Options["shards"] = p.Shards
	res.Manifest.Options["splits"] = p.Splits
	res.Manifest.Options["run"] = p.Run
	for k, v := range map[string][]string{"usage": p.Options.Usage, "changes": p.Options.Changes, "accounts": p.Options.Accounts,
		"discounts": p.Options.Discounts, "credits": p.Options.Credits, "enterprises": p.Options.Enterprises, "balances": p.Options.Balances} {
		res.Manifest.Options[k] = v
	}
	res.Manifest.Command = "commit"
	ptr, published, err := publishTree(ctx, s, p.Run, cfg.Out, res.Manifest, last)
	if err != nil {
		return nil, err
	}
	out.Pointer, out.Published, out.Result = ptr, published, res
	return out, nil
}

// loadShards reads every shard's record; a shard not finished stops the
// commit.
func loadShards(ctx context.Context, s *storage.Store, p *Plan) ([]*ShardRecord, error) {
	shards := make([]*ShardRecord, p.Shards)
	var missing []string
	for j := range shards {
		var r ShardRecord
		ok, err := getJSON(ctx, s, shardKey(p.Run, j, false), &r)
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, fmt.Sprint(j))
			continue
		}
		shards[j] = &r
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: run %s: shard %s not finished; nothing published", ErrNotFinished, p.Run, strings.Join(missing, ", "))
	}
	return shards, nil
}

// repairShards runs again the shards that read a line id another shard
// read too (affected), knowing the whole run's lines of each (foreign), so
// that the first stays and the others are rejected, as in a single run; a
// repair already recorded is reused. It returns the shards repaired.
func repairShards(ctx context.Context, st *Step, s *storage.Store, p *Plan, files []*SplitFile, shards []*ShardRecord, affected []int, foreign map[string][]uint64) ([]int, error) {
	var repaired []int
	for _, j := range affected {
		var r ShardRecord
		ok, err := getJSON(ctx, s, shardKey(p.Run, j, true), &r)
		if err != nil {
			return nil, err
		}
		if !ok {
			rr, err := runShard(ctx, st, s, p, files, j, foreign)
			if err != nil {
				return nil, err
			}
			r = *rr
		}
		shards[j] = &r
		repaired = append(repaired, j)
	}
	return repaired, nil
}

// commitInput gathers what the commit's run settles over: the split
// files' inputs and extra columns, and each shard's summary, rejects,
// bills and payer index (fetched into tmp), and the small inputs merged.
func commitInput(ctx context.Context, st *Step, s *storage.Store, p *Plan, files []*SplitFile, shards []*ShardRecord, tmp string, cfg pipeline.Config) (*pipeline.CommitInput, error) {
	ci := &pipeline.CommitInput{Files: p.Usage}
	var extras readers.ExtraColumns
	for fi, f := range files {
		in := f.Input
		ci.Inputs = append(ci.Inputs, in)
		t, err := newRowTable(p.Usage[fi], f.Header, f.Kinds, f.Typed, nil)
		if err != nil {
			return nil, err
		}
		if _, err := readers.NewUsageDecoderWith(t, &extras, readers.UsageOptions{Profile: cfg.Profile, Zone: cfg.Zone, Currency: cfg.Currency}); err != nil {
			return nil, err
		}
	}
	ci.Extras = extras.Names()
	for _, r := range shards {
		for _, x := range []struct {
			key  string
			list *[]string
		}{{r.Summary, &ci.Summaries}, {r.Rejects, &ci.Rejects}} {
			local := filepath.Join(tmp, "shards", fmt.Sprint(r.Index), filepath.Base(x.key))
			if _, err := s.GetFile(ctx, x.key, local); err != nil {
				return nil, err
			}
			*x.list = append(*x.list, local)
		}
		ci.Bills = append(ci.Bills, r.Bills...)
		if r.PayerIndex != "" {
			local := filepath.Join(tmp, "shards", fmt.Sprint(r.Index), "payers.parquet")
			if _, err := s.GetFile(ctx, r.PayerIndex, local); err != nil {
				return nil, err
			}
			j := r.Index
			ci.Indexes = append(ci.Indexes, pipeline.ShardIndex{Path: local, Map: func(x *writers.IndexRow) { x.File = ShardBillPath(j, x.File) }})
		}
		c := &ci.Counts
		c.UsageRead += r.Counts.UsageRead
		c.UsageBilled += r.Counts.UsageBilled
		c.UsageRejected += r.Counts.UsageRejected
		ci.Totals = append(ci.Totals, r.Totals)
	}
	if err := mergeSmall(ctx, st, s, p.Run, tmp, ci); err != nil {
		return nil, err
	}
	return ci, nil
}

// Uploads is how many files a publish uploads at once.
const Uploads = 8

// publishTree publishes a finished local tree (its manifest m) as the
// version after base (nil: the first) of the store: files whose bytes base
// already holds are not uploaded again but referenced by base's keys, the
// others are uploaded under an attempt of run, then the manifest, and the
// run is published last, only if base is still the latest.
func publishTree(ctx context.Context, s *storage.Store, run, dir string, m *writers.Manifest, base *storage.Pointer) (*storage.Pointer, bool, error) {
	var baseSeq int64
	have := map[string]string{} // size and SHA-256 -> key, of base's files
	if base != nil {
		baseSeq = base.Seq
		bm, _, err := storage.ManifestOf[writers.Manifest](ctx, s, base)
		if err != nil {
			return nil, false, err
		}
		for _, o := range bm.Outputs {
			if o.Key != "" {
				have[fmt.Sprint(o.Bytes, o.SHA256)] = o.Key
			}
		}
	}
	m.TreeVersion, m.BaseVersion = baseSeq+1, baseSeq
	prefix := fmt.Sprintf("%s/commit/%s/", dataDir(run), newID())
	// The files go up Uploads at a time: a store answers each request
	// after a round trip, and a tree is a few large files (each a
	// multipart upload of its own parts at once) and many small ones.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(Uploads)
	for i := range m.Outputs {
		o := &m.Outputs[i]
		if o.Key != "" {
			continue
		}
		if key, ok := have[fmt.Sprint(o.Bytes, o.SHA256)]; ok {
			o.Key = key // the same bytes, already in the store
			continue
		}
		o.Key = prefix + o.Path
		g.Go(func() error {
			_, err := s.PutFile(gctx, o.Key, filepath.Join(dir, filepath.FromSlash(o.Path)))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, false, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, false, err
	}
	if err := s.Put(ctx, prefix+"manifest.json", append(b, '\n')); err != nil {
		return nil, false, err
	}
	storage.Checkpoint("commit_publishing") // for the tests that kill a commit
	p, ok, err := storage.PublishOn(ctx, s, run, prefix+"manifest.json", baseSeq)
	if err == nil {
		storage.Checkpoint("commit_published")
	}
	return p, ok, err
}

// PublishRun publishes a finished local tree (billcons run --out URL) to
// the store at u as a run of its own, the version after base (the latest
// when the run began; nil: none).
func PublishRun(ctx context.Context, u, dir string, base *storage.Pointer) (*storage.Pointer, error) {
	s, err := storage.Open(ctx, u)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	m, err := writers.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	m.Options["out"] = storage.RedactURL(u)
	ptr, _, err := publishTree(ctx, s, newID(), dir, m, base)
	return ptr, err
}

// fetchChanged puts into the staged folder the bills files of the shards
// (in the store, by key) that the guards' diff reads: those whose path and
// bytes the latest version does not have.
func fetchChanged(ctx context.Context, s *storage.Store, g *pipeline.GuardInput) error {
	if g.Base == "" {
		return nil
	}
	old, err := writers.ReadManifest(g.Base)
	if err != nil {
		return err
	}
	have := map[string]string{}
	for _, o := range old.Outputs {
		have[o.Path] = o.SHA256
	}
	for _, o := range g.Manifest.Outputs {
		if o.Key == "" || have[o.Path] == o.SHA256 {
			continue
		}
		if _, err := s.GetFile(ctx, o.Key, filepath.Join(g.Staged, filepath.FromSlash(o.Path))); err != nil {
			return err
		}
	}
	return nil
}

// Rollback publishes the content of the store's version v (a published
// run) as its next version: a manifest that references v's objects, no
// file uploaded again.
func Rollback(ctx context.Context, u string, v int64) (*writers.Manifest, error) {
	s, err := storage.Open(ctx, u)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	last, err := storage.Latest(ctx, s)
	if err != nil {
		return nil, err
	}
	p, err := storage.At(ctx, s, v)
	if err != nil {
		return nil, fmt.Errorf("%s: version %d is not published: %w", u, v, err)
	}
	m, _, err := storage.ManifestOf[writers.Manifest](ctx, s, p)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	m.StartedAt, m.EndedAt, m.Command, m.RolledBackTo, m.Accepted = now, now, "rollback", v, nil
	m.Format, m.FormatVersion = storage.TreeFormat, storage.TreeFormatVersion
	if _, _, err := publishTree(ctx, s, newID(), "", m, last); err != nil {
		return nil, err
	}
	return m, nil
}

// idStream reads one shard's ids file: (line_id, seq) in line_id order.
type idStream struct {
	shard int
	r     *bufio.Reader
	c     io.Closer
	id    []byte
	seq   uint64
}

func (x *idStream) next() (bool, error) {
	n, err := binary.ReadUvarint(x.r)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	x.id = slices.Grow(x.id[:0], int(n)+8)[:n]
	if _, err := io.ReadFull(x.r, x.id); err != nil {
		return false, unexpected(err)
	}
	var b [8]byte
	if _, err := io.ReadFull(x.r, b[:]); err != nil {
		return false, unexpected(err)
	}
	x.seq = binary.BigEndian.Uint64(b[:])
	return true, nil
}

type idHeap []*idStream

func (h idHeap) Len() int { return len(h) }
func (h idHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].id, h[j].id); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}
func (h idHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *idHeap) Push(x any)   { *h = append(*h, x.(*idStream)) }
func (h *idHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// crossShardIDs merges the shards' ids and returns the ids read in more
// than one shard, with the read order of all their lines, and the shards
// that read them.
func crossShardIDs(ctx context.Context, s *storage.Store, shards []*ShardRecord) (map[string][]uint64, []int, error) {
	h := idHeap{}
	defer func() {
		for _, x := range h {
			x.c.Close()
		}
	}()
	for _, r := range shards {
		rc, err := s.NewReader(ctx, r.IDs)
		if err != nil {
			return nil, nil, err
		}
		x := &idStream{shard: r.Index, r: bufio.NewReaderSize(rc, 1<<20), c: rc}
		ok, err := x.next()
		if err != nil {
			rc.Close()
			return nil, nil, fmt.Errorf("%s: %w", s.Name(r.IDs), err)
		}
		if !ok {
			rc.Close()
			continue
		}
		h = append(h, x)
	}
	heap.Init(&h)
	foreign := map[string][]uint64{}
	hit := map[int]bool{}
	var cur []byte
	var seqs []uint64
	var owners []int
	flush := func() {
		if len(owners) > 1 && slices.ContainsFunc(owners, func(o int) bool { return o != owners[0] }) {
			foreign[string(cur)] = slices.Clone(seqs)
			for _, o := range owners {
				hit[o] = true
			}
		}
		seqs, owners = seqs[:0], owners[:0]
	}
	for h.Len() > 0 {
		x := h[0]
		if cur == nil || !bytes.Equal(x.id, cur) {
			flush()
			cur = append(cur[:0], x.id...)
		}
		seqs = append(seqs, x.seq)
		owners = append(owners, x.shard)
		ok, err := x.next()
		if err != nil {
			return nil, nil, err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			x.c.Close()
			heap.Pop(&h)
		}
	}
	flush()
	var affected []int
	for j := range hit {
		affected = append(affected, j)
	}
	slices.Sort(affected)
	if len(foreign) == 0 {
		foreign = nil
	}
	return foreign, affected, nil
}

// mergeSmall merges the shards' small bills files of each cycle
// (writers.MergeGroups): with few lines a shard, a cycle would otherwise be
// as many small files as shards. Each group is fetched and concatenated,
// row groups as they are, into bills/billing_cycle=C/part-mGGGGG.parquet
// (writers.ConcatBills), uploaded under an attempt of its own, and stands in
// ci for the files it merged: in the bills, and in the index, whose rows of
// a merged file now name the merged one, further in.
func mergeSmall(ctx context.Context, st *Step, s *storage.Store, run, tmp string, ci *pipeline.CommitInput) error {
	groups := writers.MergeGroups(ci.Bills)
	if len(groups) == 0 {
		return nil
	}
	type place struct {
		file  string
		first int64
	}
	into := map[string]place{} // a merged file's published name -> where its rows went
	prefix := fmt.Sprintf("%s/merged/%s/", dataDir(run), newID())
	var merged []writers.Output
	for gi, g := range groups {
		dir := filepath.Join(tmp, "merge", fmt.Sprint(gi))
		var locals []string
		for i, o := range g {
			local := filepath.Join(dir, "in", fmt.Sprintf("%d.parquet", i))
			if _, err := s.GetFile(ctx, o.Key, local); err != nil {
				return err
			}
			locals = append(locals, local)
		}
		rel := fmt.Sprintf("%s/part-m%05d.parquet", path.Dir(g[0].Path), gi)
		root := filepath.Join(dir, "out")
		out, first, err := writers.ConcatBills(root, rel, locals)
		if err != nil {
			return fmt.Errorf("merging %d bills files into %s: %w", len(g), rel, err)
		}
		for i, o := range g {
			into[o.Path] = place{rel, first[i]}
		}
		out.Key = prefix + rel
		if _, err := s.MoveFile(ctx, out.Key, filepath.Join(root, filepath.FromSlash(rel))); err != nil {
			return err
		}
		merged = append(merged, out)
		os.RemoveAll(dir)
	}
	bills := merged
	for _, o := range ci.Bills {
		if _, ok := into[o.Path]; !ok {
			bills = append(bills, o)
		}
	}
	for i := range ci.Indexes {
		name := ci.Indexes[i].Map
		ci.Indexes[i].Map = func(x *writers.IndexRow) {
			name(x)
			if p, ok := into[x.File]; ok {
				x.File, x.FirstRow = p.file, x.FirstRow+p.first
			}
		}
	}
	st.logf("commit: merged %d bills files under %d MB into %d", len(into), writers.SmallBillFile>>20, len(merged))
	ci.Bills = bills
	return nil
}
