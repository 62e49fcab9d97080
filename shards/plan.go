// Package shards runs one consolidation as steps an indexed scheduler
// (Kubernetes Indexed Jobs, AWS Batch array jobs, Argo) starts many copies
// of, with its files in a store (package storage):
//
//	plan    checks the inputs once, fixes the shard and split counts
//	split   K steps: input part I into per-shard rows, by account_id
//	shard   N steps: today's passes over one shard's members
//	commit  credits, alerts, manifest; then publish
//
// Under the store's URL, a run's files are:
//
//	_plan.json                      the newest plan: which run the steps work on
//	_runs/RUN/plan.json             the plan itself
//	_runs/RUN/inputs/KIND/N/NAME    copies of the small inputs
//	_runs/RUN/splits/I/ATTEMPT/...  split I's rows per (file, shard)
//	_runs/RUN/splits/I.json         split I's record: the attempt that counts
//	_runs/RUN/shards/J/ATTEMPT/...  shard J's summary, rejects, index, ids
//	_runs/RUN/shards/J.json         shard J's record
//	_data/RUN/shards/J/ATTEMPT/...  shard J's bills
//	_data/RUN/merged/ATTEMPT/...    the bills commit merged from small ones
//	_data/RUN/commit/ATTEMPT/...    the settled summary, credits, alerts,
//	                                rejects, views and manifest
//	_published/SEQ.json             the published runs, newest last
//
// What a published version may reference is under _data/; _runs/ holds only
// what the steps hand each other, which no reader needs once the run is
// committed: a bucket lifecycle rule may expire _runs/ after some days,
// and billcons gc removes what no kept version references in both.
//
// Every step writes its files under a name of its own attempt, then
// records them with a create-only write: of attempts of one step run at
// once, or retried after a kill, exactly one record is written, and the
// other attempts' files are never read (readers find files through the
// records and the manifest, never by listing).
package shards

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/billcons/billcons/pipeline"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/storage"
)

// Options are the options of `billcons run` that a sharded run takes.
type Options struct {
	Usage       []string `json:"usage"`
	Changes     []string `json:"changes"`
	Accounts    []string `json:"accounts,omitempty"`
	Discounts   []string `json:"discounts,omitempty"`
	Credits     []string `json:"credits,omitempty"`
	Enterprises []string `json:"enterprises,omitempty"`
	Balances    []string `json:"balances,omitempty"`

	Timing         string  `json:"timing"`
	TZ             string  `json:"tz"`
	Profile        string  `json:"profile,omitempty"`
	Currency       string  `json:"currency,omitempty"`
	MaxRejectRatio float64 `json:"max_reject_ratio"`
	// The guards of the commit against the store's latest version.
	AcceptMissing bool    `json:"accept_missing,omitempty"`
	MaxCycleDrop  float64 `json:"max_cycle_drop"`
}

// Plan is _runs/RUN/plan.json.
type Plan struct {
	Run     string  `json:"run"`
	Shards  int     `json:"shards"`
	Splits  int     `json:"splits"`
	Out     string  `json:"out"`
	Options Options `json:"options"`
	// Usage are the usage files, expanded, in the order a single run reads
	// them; split I reads those whose index is I modulo Splits.
	Usage []string `json:"usage_files"`
	// Inputs are the small inputs' files, copied into the run.
	Inputs  []CopiedInput `json:"inputs"`
	Created string        `json:"created"`
}

// CopiedInput is one small input file: its name as given, and its copy.
type CopiedInput struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Key  string `json:"key"`
}

// Step is what every step needs: the run's settings and where it lives.
type Step struct {
	Out     string // the store's URL
	Version string
	// Config returns the pipeline settings of the plan's options (zone,
	// timing), set by the command line.
	Config func(Options) (pipeline.Config, error)
	// Log receives progress lines.
	Log func(format string, args ...any)
	// Guard, when set, judges the committed run before it is published
	// (pipeline.Config.Guard); Base makes the store's version seq a local
	// folder for it to compare with.
	Guard func(Options) func(ctx context.Context, g *pipeline.GuardInput) error
	Base  func(ctx context.Context, seq int64) (string, error)
}

func (s *Step) logf(format string, args ...any) {
	if s.Log != nil {
		s.Log(format, args...)
	}
}

func runDir(run string) string { return "_runs/" + run }

// dataDir is where a run's files that a version may reference go.
func dataDir(run string) string { return "_data/" + run }

// newID is a name for a run or an attempt: sortable by time, unique.
func newID() string {
	var b [4]byte
	rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(b[:])
}

// PlanRun is `billcons plan`: it expands and checks the inputs (a file
// missing a column stops here, with the run's exit status), copies the
// small inputs into the run, and writes the plan.
func PlanRun(ctx context.Context, st *Step, o Options, shards, splits int) (*Plan, error) {
	if shards < 1 || shards > 100000 {
		return nil, fmt.Errorf("--shards %d: want 1 to 100000", shards)
	}
	if splits < 1 || splits > 100000 {
		return nil, fmt.Errorf("--splits %d: want 1 to 100000", splits)
	}
	cfg, err := st.Config(o)
	if err != nil {
		return nil, err
	}
	if err := storage.CheckStoreFolder(st.Out); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "billcons-plan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	usage, err := localize(ctx, o.Usage, filepath.Join(tmp, "usage"))
	if err != nil {
		return nil, err
	}
	if len(usage.files) == 0 {
		return nil, fmt.Errorf("--usage: no usage files")
	}
	small, err := localizeSmall(ctx, o, filepath.Join(tmp, "in"))
	if err != nil {
		return nil, err
	}
	// The checks of `billcons check-inputs`: every file opens and has its
	// columns; the changes and settlement inputs are judged once here.
	small.apply(&cfg)
	cfg.Usage = usage.files
	for l, n := range usage.names {
		cfg.Names[l] = n
	}
	if err := checkInputs(ctx, cfg, usage, filepath.Join(tmp, "check")); err != nil {
		return nil, err
	}
	s, err := storage.Open(ctx, st.Out)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	p := &Plan{Run: newID(), Shards: shards, Splits: splits, Out: st.Out, Options: o, Created: time.Now().UTC().Format(time.RFC3339Nano)}
	for _, f := range usage.files {
		p.Usage = append(p.Usage, usage.name(f))
	}
	for i, in := range small.list {
		file := readers.ArchivePath(in.local) // a zip member: its archive
		key := fmt.Sprintf("%s/inputs/%s/%d/%s", runDir(p.Run), in.kind, i, path.Base(filepath.ToSlash(file)))
		if _, err := s.PutFile(ctx, key, file); err != nil {
			return nil, err
		}
		p.Inputs = append(p.Inputs, CopiedInput{Kind: in.kind, Name: in.name, Key: key})
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := s.Put(ctx, runDir(p.Run)+"/plan.json", b); err != nil {
		return nil, err
	}
	ptr, _ := json.Marshal(map[string]string{"run": p.Run})
	if err := s.Put(ctx, "_plan.json", ptr); err != nil {
		return nil, err
	}
	st.logf("plan %s: %d usage files in %d splits, %d shards", p.Run, len(p.Usage), splits, shards)
	return p, nil
}

// openRun opens the store of a step and reads the newest plan in it.
func openRun(ctx context.Context, st *Step) (*storage.Store, *Plan, error) {
	s, err := storage.Open(ctx, st.Out)
	if err != nil {
		return nil, nil, err
	}
	p, err := loadPlan(ctx, s)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, p, nil
}

// stepConfig is the pipeline's settings for a shard or commit of plan p:
// the plan's options, and its copies of the small inputs fetched into a
// new temporary folder, tmp, which the caller removes (also on error).
func stepConfig(ctx context.Context, st *Step, s *storage.Store, p *Plan, step string) (cfg pipeline.Config, tmp string, err error) {
	tmp, err = os.MkdirTemp("", "billcons-"+step+"-")
	if err != nil {
		return cfg, "", err
	}
	cfg, err = st.Config(p.Options)
	if err != nil {
		return cfg, tmp, err
	}
	sm, err := fetchSmall(ctx, s, p, filepath.Join(tmp, "in"))
	if err != nil {
		return cfg, tmp, err
	}
	sm.apply(&cfg)
	cfg.Out = filepath.Join(tmp, "out")
	cfg.Version = st.Version
	return cfg, tmp, nil
}

// loadPlan reads the newest plan.
func loadPlan(ctx context.Context, s *storage.Store) (*Plan, error) {
	b, err := s.Get(ctx, "_plan.json")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no plan (run billcons plan first)", s.Name("_plan.json"))
	}
	if err != nil { // a 403, a missing bucket, an outage: said as it is
		return nil, fmt.Errorf("reading the plan: %w", err)
	}
	var ptr struct{ Run string }
	if err := json.Unmarshal(b, &ptr); err != nil || ptr.Run == "" {
		return nil, fmt.Errorf("%s: not a plan pointer", s.Name("_plan.json"))
	}
	b, err = s.Get(ctx, runDir(ptr.Run)+"/plan.json")
	if err != nil {
		return nil, err
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name(runDir(ptr.Run)+"/plan.json"), err)
	}
	return &p, nil
}

// getJSON reads a record; ok is false when it is not there.
func getJSON(ctx context.Context, s *storage.Store, key string, v any) (bool, error) {
	b, err := s.Get(ctx, key)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s: %w", s.Name(key), err)
	}
	return true, nil
}

// checkInputs runs the pipeline over the usage files' headers only: every
// input opens and has its columns, and the changes and settlement inputs
// are read and judged, as a run would at its start.
func checkInputs(ctx context.Context, cfg pipeline.Config, usage *localFiles, out string) error {
	files := make([]string, len(usage.files))
	for i, f := range usage.files {
		files[i] = usage.name(f)
	}
	cfg.Out = out
	cfg.MaxRejectRatio = -1
	cfg.Shard = &pipeline.ShardInput{Files: files, Open: func(fi int) (readers.Table, error) {
		t, err := readers.Open(usage.files[fi])
		if err != nil {
			return nil, err
		}
		return headerOnly(readers.Renamed(t, files[fi]))
	}}
	_, err := pipeline.Run(ctx, cfg)
	return err
}

// headerOnly is t without its rows.
func headerOnly(t readers.Table) (readers.Table, error) {
	var kinds []readers.ColumnKind
	if k, ok := t.(interface{ Kinds() []readers.ColumnKind }); ok {
		kinds = k.Kinds()
	}
	h := t.Header()
	name := t.Name()
	t.Close()
	return newRowTable(name, h, kinds, nil, nil)
}
