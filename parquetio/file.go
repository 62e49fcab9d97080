package parquetio

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

// Output is a file written: where, how many rows and bytes, and the
// SHA-256 of its bytes.
type Output struct {
	Path   string // relative to the root it was created in, with forward slashes
	Rows   int64
	Bytes  int64
	SHA256 string
}

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

// Zstd compresses every Parquet file billcons writes but small bills
// parts: zstd at its fastest level costs about half the CPU of its default
// level for files a fifth larger, which DuckDB reads as fast
// (docs/performance.md).
var Zstd compress.Codec = &zstd.Codec{Level: zstd.SpeedFastest}

// Snappy compresses the small bills parts.
var Snappy compress.Codec = &snappy.Codec{}

// PageCodec is the codec billcons compresses a page of codec c with (nil
// for none): what the benchmarks' codec floor compresses pages again with.
func PageCodec(c format.CompressionCodec) (compress.Codec, error) {
	switch c {
	case format.Uncompressed:
		return nil, nil
	case format.Zstd:
		return Zstd, nil
	case format.Snappy:
		return Snappy, nil
	}
	if codec := parquet.LookupCompressionCodec(c); codec != nil {
		return codec, nil
	}
	return nil, fmt.Errorf("codec %s", c)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
