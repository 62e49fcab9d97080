package writers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// Output describes one file of the tree, for the manifest.
type Output struct {
	Path   string `json:"path"` // relative to the tree, with forward slashes
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// Key, in a run published to a bucket, is where the file is: its key
	// under the bucket URL. Readers fetch the files by it (storage).
	Key string `json:"key,omitempty"`
}

// createdBy is written into every Parquet footer, in the form parquet-java
// (Spark, Hive, Trino's converters) parses, "APP version V (build B)": a
// created_by it cannot parse makes it ignore the min/max statistics of every
// text and fixed-length column (our ids and DECIMAL(38,9) sums). The version
// is the tree format's, not the build's, so that output bytes change only
// when what billcons writes does, and nights before and after an upgrade
// still share their unchanged files.
var createdBy = fmt.Sprintf("billcons version %s (build %s)", FormatVersion, FormatBuild)

// FormatVersion and FormatBuild are what createdBy says: the tree format's version, as
// a semantic version, and its build name. Files billcons writes through a
// library (the FOCUS export) say the same.
var (
	FormatVersion = fmt.Sprintf("%d.0.0", TreeFormatVersion)
	FormatBuild   = fmt.Sprintf("billcons-tree-%d", TreeFormatVersion)
)

// createFile creates root/rel, a new file, and its folders. With newDir,
// rel's folder is known not to exist yet while its parent does (a new bills
// partition): one mkdir instead of MkdirAll's walk.
func createFile(root, rel string, newDir bool) (*os.File, error) {
	path := filepath.Join(root, filepath.FromSlash(rel))
	dir := filepath.Dir(path)
	var err error
	if newDir {
		if err = os.Mkdir(dir, 0o755); errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrNotExist) {
			err = os.MkdirAll(dir, 0o755)
		}
	} else {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", rel, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", rel, err)
	}
	return f, nil
}

// zstdFastest compresses every Parquet file billcons writes: it costs
// about half the CPU of zstd's default level for files a fifth larger,
// which DuckDB reads as fast (docs/performance.md).
var zstdFastest = zstd.Codec{Level: zstd.SpeedFastest}

// PageCodec is the codec billcons compresses a page of codec c with (nil
// for none): what the benchmarks' codec floor compresses pages again with.
func PageCodec(c format.CompressionCodec) (compress.Codec, error) {
	switch c {
	case format.Uncompressed:
		return nil, nil
	case format.Zstd:
		return &zstdFastest, nil
	case format.Snappy:
		return &snappyCodec, nil
	}
	if codec := parquet.LookupCompressionCodec(c); codec != nil {
		return codec, nil
	}
	return nil, fmt.Errorf("codec %s", c)
}

// snappyCodec compresses the bills files of at most billSmall rows.
var snappyCodec = snappy.Codec{}
