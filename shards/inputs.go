package shards

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"github.com/billcons/billcons/pipeline"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/storage"
)

// localFiles are input files on this machine, each with the name the run
// calls it by: its path, or for a file fetched from a bucket, its URL.
type localFiles struct {
	files []string
	names map[string]string
}

func (l *localFiles) name(f string) string {
	if n, ok := l.names[f]; ok {
		return n
	}
	return f
}

// Localize makes input arguments local files: a local argument expands as
// `run` expands it; a URL (s3://bucket/prefix/file.csv, or a prefix: every
// input file under it, in name order) is fetched into dir. Names maps each
// fetched file to its URL.
func Localize(ctx context.Context, args []string, dir string) (files []string, names map[string]string, err error) {
	l, err := localize(ctx, args, dir)
	if err != nil {
		return nil, nil, err
	}
	return l.files, l.names, nil
}

func localize(ctx context.Context, args []string, dir string) (*localFiles, error) {
	l := &localFiles{names: map[string]string{}}
	for ai, a := range args {
		if !storage.IsURL(a) {
			fs, err := readers.Expand(a)
			if err != nil {
				return nil, err
			}
			l.files = append(l.files, fs...)
			continue
		}
		u, err := url.Parse(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a, err)
		}
		base := path.Base(u.Path)
		var storeURL string
		var keys []string
		if readers.IsInput(base) {
			parent := *u
			parent.Path = path.Dir(u.Path)
			storeURL, keys = parent.String(), []string{base}
		} else {
			storeURL = a
		}
		s, err := storage.Open(ctx, storeURL)
		if err != nil {
			return nil, err
		}
		if keys == nil {
			all, err := s.List(ctx, "")
			if err != nil {
				s.Close()
				return nil, err
			}
			for _, k := range all {
				if !strings.Contains(k, "/") && readers.IsInput(k) {
					keys = append(keys, k)
				}
			}
			if len(keys) == 0 {
				s.Close()
				return nil, fmt.Errorf("%s: holds no .csv, .csv.gz, .parquet or .zip file", a)
			}
		}
		for _, k := range keys {
			local := filepath.Join(dir, fmt.Sprint(ai), k)
			if _, err := s.GetFile(ctx, k, local); err != nil {
				s.Close()
				return nil, err
			}
			fs, err := readers.Expand(local)
			if err != nil {
				s.Close()
				return nil, err
			}
			for _, f := range fs {
				l.files = append(l.files, f)
				l.names[f] = s.Name(k + strings.TrimPrefix(f, local)) // a zip member's name: URL/archive.zip:member.csv?query
			}
		}
		s.Close()
	}
	return l, nil
}

// small are the small inputs (changes, accounts and the settlement inputs),
// local.
type small struct {
	list  []smallFile
	names map[string]string
}

type smallFile struct{ kind, name, local string }

var smallKinds = []string{"changes", "accounts", "discounts", "enterprises", "credits", "balances"}

func optionArgs(o *Options, kind string) []string {
	switch kind {
	case "changes":
		return o.Changes
	case "accounts":
		return o.Accounts
	case "discounts":
		return o.Discounts
	case "enterprises":
		return o.Enterprises
	case "credits":
		return o.Credits
	case "balances":
		return o.Balances
	}
	return nil
}

func localizeSmall(ctx context.Context, o Options, dir string) (*small, error) {
	sm := &small{names: map[string]string{}}
	for _, kind := range smallKinds {
		l, err := localize(ctx, optionArgs(&o, kind), filepath.Join(dir, kind))
		if err != nil {
			return nil, err
		}
		for _, f := range l.files {
			sm.list = append(sm.list, smallFile{kind, l.name(f), f})
		}
		for k, v := range l.names {
			sm.names[k] = v
		}
	}
	return sm, nil
}

// fetchSmall fetches the plan's copies of the small inputs into dir.
func fetchSmall(ctx context.Context, s *storage.Store, p *Plan, dir string) (*small, error) {
	sm := &small{names: map[string]string{}}
	for i, in := range p.Inputs {
		local := filepath.Join(dir, fmt.Sprint(i), path.Base(in.Key))
		if _, err := s.GetFile(ctx, in.Key, local); err != nil {
			return nil, err
		}
		// A zip member's copy is its archive: read the member in it.
		file := local
		if a := readers.ArchivePath(in.Name); a != in.Name {
			file = local + strings.TrimPrefix(in.Name, a)
		}
		sm.list = append(sm.list, smallFile{in.Kind, in.Name, file})
		sm.names[file] = in.Name
	}
	return sm, nil
}

// apply sets the small inputs of cfg to these files, under their names.
func (sm *small) apply(cfg *pipeline.Config) {
	cfg.Changes, cfg.Accounts, cfg.Discounts, cfg.Enterprises, cfg.Credits, cfg.Balances = nil, nil, nil, nil, nil, nil
	for _, f := range sm.list {
		switch f.kind {
		case "changes":
			cfg.Changes = append(cfg.Changes, f.local)
		case "accounts":
			cfg.Accounts = append(cfg.Accounts, f.local)
		case "discounts":
			cfg.Discounts = append(cfg.Discounts, f.local)
		case "enterprises":
			cfg.Enterprises = append(cfg.Enterprises, f.local)
		case "credits":
			cfg.Credits = append(cfg.Credits, f.local)
		case "balances":
			cfg.Balances = append(cfg.Balances, f.local)
		}
	}
	if cfg.Names == nil {
		cfg.Names = map[string]string{}
	}
	for k, v := range sm.names {
		cfg.Names[k] = v
	}
}
