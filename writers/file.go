package writers

import (
	"fmt"

	"github.com/billcons/billcons/parquetio"
	"github.com/billcons/billcons/storage"
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
	FormatVersion = fmt.Sprintf("%d.0.0", storage.TreeFormatVersion)
	FormatBuild   = fmt.Sprintf("billcons-tree-%d", storage.TreeFormatVersion)
)

// createFlat creates root/rel, a Parquet file of the given columns, with
// billcons' created_by.
func createFlat(root, rel, name string, cols []parquetio.Column) (*parquetio.Writer, error) {
	return parquetio.Create(root, rel, name, cols, createdBy)
}

// output is a file parquetio wrote, as the manifest lists it.
func output(o parquetio.Output, err error) (Output, error) {
	return Output{Path: o.Path, Rows: o.Rows, Bytes: o.Bytes, SHA256: o.SHA256}, err
}
