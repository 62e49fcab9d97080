package shards

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/billcons/billcons/pipeline"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/writers"
)

// ShardRecord is _runs/RUN/shards/J.json: the files of the attempt of shard
// J that counts, and its counts and totals.
type ShardRecord struct {
	Index   int              `json:"index"`
	Attempt string           `json:"attempt"`
	Bills   []writers.Output `json:"bills"` // Path: as published; Key: where
	Summary string           `json:"summary"`
	Rejects string           `json:"rejects"`
	IDs     string           `json:"ids"`
	// PayerIndex is the shard's index/payers.parquet, its files named as
	// the shard wrote them (see ShardBillPath).
	PayerIndex string `json:"payer_index,omitempty"`
	// Repair is set on a record commit wrote after judging ids read in
	// more than one shard.
	Repair bool                      `json:"repair,omitempty"`
	Counts writers.Counts            `json:"counts"`
	Totals map[string]writers.Totals `json:"totals"`
}

func shardKey(run string, j int, repair bool) string {
	if repair {
		return fmt.Sprintf("%s/shards/%d.repair.json", runDir(run), j)
	}
	return fmt.Sprintf("%s/shards/%d.json", runDir(run), j)
}

// loadSplits reads every split's record; it fails naming the splits that
// have not finished.
func loadSplits(ctx context.Context, s *storage.Store, p *Plan) ([]SplitRecord, error) {
	recs := make([]SplitRecord, p.Splits)
	var missing []string
	for i := range recs {
		ok, err := getJSON(ctx, s, fmt.Sprintf("%s/splits/%d.json", runDir(p.Run), i), &recs[i])
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, fmt.Sprint(i))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("run %s: split %s not finished", p.Run, strings.Join(missing, ", "))
	}
	return recs, nil
}

// filesOf indexes the split records by usage file.
func filesOf(p *Plan, recs []SplitRecord) ([]*SplitFile, error) {
	files := make([]*SplitFile, len(p.Usage))
	for i := range recs {
		for k := range recs[i].Files {
			f := &recs[i].Files[k]
			if f.File < 0 || f.File >= len(files) {
				return nil, fmt.Errorf("split %d names usage file %d; the plan has %d", i, f.File, len(files))
			}
			files[f.File] = f
		}
	}
	for i, f := range files {
		if f == nil {
			return nil, fmt.Errorf("no split read usage file %s", p.Usage[i])
		}
	}
	return files, nil
}

// Shard is `billcons shard`: the passes of a run over shard index's
// members, written under an attempt of its own, then recorded.
func Shard(ctx context.Context, st *Step, index int) error {
	s, p, err := openRun(ctx, st)
	if err != nil {
		return err
	}
	defer s.Close()
	if index < 0 || index >= p.Shards {
		return fmt.Errorf("shard index %d: the plan has shards 0 to %d", index, p.Shards-1)
	}
	if ok, err := s.Exists(ctx, shardKey(p.Run, index, false)); err != nil || ok {
		if ok {
			st.logf("shard %d of run %s: already done", index, p.Run)
		}
		return err
	}
	recs, err := loadSplits(ctx, s, p)
	if err != nil {
		return err
	}
	files, err := filesOf(p, recs)
	if err != nil {
		return err
	}
	_, err = runShard(ctx, st, s, p, files, index, nil)
	return err
}

// runShard runs shard j and records it; foreign, when set, are the ids read
// in more than one shard (commit's repair).
func runShard(ctx context.Context, st *Step, s *storage.Store, p *Plan, files []*SplitFile, j int, foreign map[string][]uint64) (*ShardRecord, error) {
	cfg, tmp, err := stepConfig(ctx, st, s, p, "shard")
	defer os.RemoveAll(tmp) // "" when it was not made: removes nothing
	if err != nil {
		return nil, err
	}
	// Credits and balances are settled by commit, over every shard's
	// statement rows; the reject limit is judged there too.
	cfg.Credits, cfg.Balances = nil, nil
	cfg.MaxRejectRatio = -1
	idsPath := filepath.Join(tmp, "ids")
	idf, err := os.Create(idsPath)
	if err != nil {
		return nil, err
	}
	defer idf.Close()
	idw := bufio.NewWriterSize(idf, 1<<20)
	var idb []byte
	cfg.Shard = &pipeline.ShardInput{
		Files: p.Usage,
		Open: func(fi int) (readers.Table, error) {
			f := files[fi]
			b, ok := f.Shards[j]
			if !ok {
				return newRowTable(p.Usage[fi], f.Header, f.Kinds, f.Typed, nil)
			}
			r, err := s.NewReader(ctx, b.Key)
			if err != nil {
				return nil, err
			}
			return newRowTable(p.Usage[fi], f.Header, f.Kinds, f.Typed, r)
		},
		Foreign: foreign,
		IDs: func(id []byte, seq uint64) error {
			idb = binary.AppendUvarint(idb[:0], uint64(len(id)))
			idb = append(idb, id...)
			idb = binary.BigEndian.AppendUint64(idb, seq)
			_, err := idw.Write(idb)
			return err
		},
	}
	res, err := pipeline.Run(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("shard %d: %w", j, err)
	}
	if err := idw.Flush(); err != nil {
		return nil, err
	}
	if err := idf.Close(); err != nil {
		return nil, err
	}
	attempt := newID()
	prefix := fmt.Sprintf("%s/shards/%d/%s/", runDir(p.Run), j, attempt)
	// The bills are what the published version references: under _data/.
	billsPrefix := fmt.Sprintf("%s/shards/%d/%s/", dataDir(p.Run), j, attempt)
	rec := &ShardRecord{Index: j, Attempt: attempt, Repair: foreign != nil, Counts: res.Manifest.Counts, Totals: res.Manifest.Totals}
	var written []string
	put := func(key, local string) error {
		written = append(written, key)
		_, err := s.MoveFile(ctx, key, local)
		return err
	}
	// The files go up Uploads at a time, all before the ids and the record.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(Uploads)
	for _, o := range res.Manifest.Outputs {
		local := filepath.Join(cfg.Out, filepath.FromSlash(o.Path))
		switch {
		case strings.HasPrefix(o.Path, "bills/"):
			o.Path = ShardBillPath(j, o.Path)
			o.Key = billsPrefix + o.Path
			rec.Bills = append(rec.Bills, o)
		case o.Path == writers.IndexPath:
			rec.PayerIndex = prefix + o.Path
			o.Key = rec.PayerIndex
		case o.Path == writers.PathOf("summary"):
			rec.Summary = prefix + o.Path
			o.Key = rec.Summary
		case o.Path == "rejects/usage.parquet":
			rec.Rejects = prefix + o.Path
			o.Key = rec.Rejects
		default:
			continue
		}
		written = append(written, o.Key)
		g.Go(func() error {
			_, err := s.MoveFile(gctx, o.Key, local)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		removeAll(ctx, s, written)
		return nil, err
	}
	storage.Checkpoint("shard_uploaded") // for the tests that kill a shard mid-write
	rec.IDs = prefix + "ids"
	if err := put(rec.IDs, idsPath); err != nil {
		removeAll(ctx, s, written)
		return nil, err
	}
	b, err := json.MarshalIndent(rec, "", " ")
	if err != nil {
		return nil, err
	}
	key := shardKey(p.Run, j, foreign != nil)
	ok, err := s.Create(ctx, key, b)
	if err != nil {
		return nil, err
	}
	if !ok {
		removeAll(ctx, s, written)
		st.logf("shard %d: another attempt was recorded first; this attempt's files removed", j)
		var won ShardRecord
		if _, err := getJSON(ctx, s, key, &won); err != nil {
			return nil, err
		}
		return &won, nil
	}
	st.logf("shard %d: %d lines read, %d billed, %d rejected, %d bills files", j, rec.Counts.UsageRead, rec.Counts.UsageBilled, rec.Counts.UsageRejected, len(rec.Bills))
	return rec, nil
}

// ShardBillPath is the published name of shard j's bills file rel: every
// shard writes part files of the same cycles, so the name says whose.
func ShardBillPath(j int, rel string) string {
	dir, base := path.Split(rel)
	return fmt.Sprintf("%spart-s%05d-%s", dir, j, strings.TrimPrefix(base, "part-"))
}
