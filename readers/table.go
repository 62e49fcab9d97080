package readers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Row is one data row of a table, as text.
type Row struct {
	// N is the 1-based data row: the first row after the header is 1.
	N int64
	// Fields holds one value per header column. It may be shorter than the
	// header when Err is set.
	Fields []string
	// Null marks the fields that were null (Parquet only); nil when none were.
	Null []bool
	// Err is set when the row itself is malformed (a CSV quoting error or a
	// wrong number of fields). Its Code names the kind.
	Err error
	// Num holds the raw integers of the fields a Parquet table delivers
	// typed (see [DeliverTyped] and [Row.Typed]); nil when none are.
	Num   []int64
	typed []typedColumn
}

// Clone returns a copy of the row that the next Read does not overwrite.
func (r *Row) Clone() Row {
	c := *r
	c.Fields = slices.Clone(r.Fields)
	c.Null = slices.Clone(r.Null)
	c.Num = slices.Clone(r.Num)
	return c
}

// Table is a source of rows under a header.
//
// Read fills dst with up to len(dst) rows and returns how many it filled.
// At the end it returns [io.EOF], possibly with n > 0: the caller processes
// dst[:n] before looking at err. The strings in the rows stay valid after
// the next call; the Row values themselves, and their Fields and Null
// slices, are overwritten (keep a row with [Row.Clone]).
type Table interface {
	Name() string
	Header() []string
	Read(dst []Row) (n int, err error)
	Close() error
}

// ErrUnknownFormat is returned by [Open] for a file whose extension is not
// .csv, .csv.gz or .parquet.
var ErrUnknownFormat = errors.New("unknown input format: want .csv, .csv.gz, .parquet or a .zip of .csv files")

// Open opens one input file, choosing the format by its extension.
func Open(path string) (Table, error) {
	lower := strings.ToLower(path)
	switch {
	case ArchivePath(path) != path:
		return openZipMember(path)
	case strings.HasSuffix(lower, ".csv"):
		return openCSV(path, false)
	case strings.HasSuffix(lower, ".csv.gz"):
		return openCSV(path, true)
	case strings.HasSuffix(lower, ".parquet"):
		return openParquet(path)
	}
	return nil, fmt.Errorf("%s: %w", path, ErrUnknownFormat)
}

// IsInput reports whether name has an input extension.
func IsInput(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasSuffix(lower, ".csv") || strings.HasSuffix(lower, ".csv.gz") || strings.HasSuffix(lower, ".parquet") || isZip(lower)
}

// expandZips replaces each archive among files by its CSV members.
func expandZips(files []string) ([]string, error) {
	var out []string
	for _, f := range files {
		if !isZip(f) {
			out = append(out, f)
			continue
		}
		members, err := zipMembers(f)
		if err != nil {
			return nil, err
		}
		out = append(out, members...)
	}
	return out, nil
}

// Expand resolves one --usage, --changes or --accounts argument to files: a
// file is itself; a directory gives every *.csv, *.csv.gz and *.parquet file
// directly inside it, in name order; anything with glob characters is
// matched with [filepath.Glob], in name order. It is an error for an argument
// to match nothing, or for an explicitly named file to have another extension.
func Expand(arg string) ([]string, error) {
	if strings.ContainsAny(arg, "*?[") {
		matches, err := filepath.Glob(arg)
		if err != nil {
			return nil, fmt.Errorf("%s: bad pattern: %w", arg, err)
		}
		var files []string
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() && IsInput(m) {
				files = append(files, m)
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no .csv, .csv.gz, .parquet or .zip file matches", arg)
		}
		sort.Strings(files)
		return expandZips(files)
	}
	st, err := os.Stat(arg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arg, unwrapPath(err))
	}
	if !st.IsDir() {
		if !IsInput(arg) {
			return nil, fmt.Errorf("%s: %w", arg, ErrUnknownFormat)
		}
		return expandZips([]string{arg})
	}
	entries, err := os.ReadDir(arg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arg, unwrapPath(err))
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() && IsInput(e.Name()) {
			files = append(files, filepath.Join(arg, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: folder holds no .csv, .csv.gz, .parquet or .zip file", arg)
	}
	return expandZips(files) // ReadDir returns entries sorted by name
}

// unwrapPath drops the *fs.PathError wrapper, whose text repeats the path.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Each reads t to the end in batches, calling fn for each row, and stops at
// the first error from fn or the table, or when ctx is done.
func Each(ctx context.Context, t Table, fn func(*Row) error) error {
	buf := make([]Row, 1024)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := t.Read(buf)
		for i := range buf[:n] {
			if ferr := fn(&buf[i]); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Renamed returns t under another name: the name its rows' positions and
// errors give. A table of typed columns stays typed.
func Renamed(t Table, name string) Table {
	if name == t.Name() {
		return t
	}
	if k, ok := t.(interface{ Kinds() []ColumnKind }); ok {
		return &renamedKinds{renamed{t, name}, k.Kinds()}
	}
	return &renamed{t, name}
}

type renamed struct {
	Table
	name string
}

func (r *renamed) Name() string { return r.name }

type renamedKinds struct {
	renamed
	kinds []ColumnKind
}

func (r *renamedKinds) Kinds() []ColumnKind { return r.kinds }
