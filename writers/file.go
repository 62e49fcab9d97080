package writers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"path/filepath"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
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

// parquetFile is one Parquet file being written, hashed as it goes.
type parquetFile struct {
	root, rel string
	f         *os.File
	h         hash.Hash
	n         int64
	w         *parquet.Writer
	rows      int64
}

func (p *parquetFile) Write(b []byte) (int, error) {
	n, err := p.f.Write(b)
	p.h.Write(b[:n])
	p.n += int64(n)
	return n, err
}

// createdBy is written into every Parquet footer. It names billcons, not the
// library version, so that output bytes change only when billcons does.
const createdBy = "billcons"

func createParquet(root, rel string, schema *parquet.Schema) (*parquetFile, error) {
	path := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", rel, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", rel, err)
	}
	p := &parquetFile{root: root, rel: rel, f: f, h: sha256.New()}
	p.w = parquet.NewWriter(p, schema,
		parquet.Compression(&zstdFastest),
		parquet.CreatedBy(createdBy, "", ""),
		parquet.MaxRowsPerRowGroup(1<<15), // a row group is buffered whole: 32k rows keep a writer at a few MB
		parquet.PageBufferSize(1<<20),
	)
	return p, nil
}

func (p *parquetFile) writeRow(row parquet.Row) error {
	if _, err := p.w.WriteRows([]parquet.Row{row}); err != nil {
		return fmt.Errorf("writing %s: %w", p.rel, unwrapPath(err))
	}
	p.rows++
	return nil
}

func (p *parquetFile) close() (Output, error) {
	if err := p.w.Close(); err != nil {
		p.f.Close()
		return Output{}, fmt.Errorf("writing %s: %w", p.rel, unwrapPath(err))
	}
	if err := p.f.Close(); err != nil {
		return Output{}, fmt.Errorf("writing %s: %w", p.rel, unwrapPath(err))
	}
	return Output{Path: p.rel, Rows: p.rows, Bytes: p.n, SHA256: hex.EncodeToString(p.h.Sum(nil))}, nil
}

// zstdFastest compresses every Parquet file billcons writes. At 10M lines it
// took the bills' compression from 5.6 s to 3.1 s of CPU (write_bills
// from 14.0 s to 11.6 s) for 21% larger files (238 MB to 288 MB); DuckDB
// reads both as fast.
var zstdFastest = zstd.Codec{Level: zstd.SpeedFastest}
