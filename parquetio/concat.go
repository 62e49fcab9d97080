package parquetio

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"reflect"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Concat writes root/rel, one Parquet file holding the row groups of
// files (of one schema: a sharded run's shards write such bills files of a
// cycle over the same payers) one after another, their bytes as
// they are, under one footer whose offsets point at them. Nothing is decoded
// or compressed again: the merged file costs what copying its bytes costs.
// Each row group keeps its statistics, and each file's rows stay a run
// sorted by payer; first[i] is the row at which files[i]'s rows begin.
func Concat(root, rel string, files []string) (out Output, first []int64, err error) {
	f, err := createFile(root, rel, false)
	if err != nil {
		return Output{}, nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	w := io.MultiWriter(f, h)
	if _, err := io.WriteString(w, "PAR1"); err != nil {
		return Output{}, nil, err
	}
	offset := int64(4)
	var merged format.FileMetaData
	for i, p := range files {
		md, data, err := readFooter(p)
		if err != nil {
			return Output{}, nil, err
		}
		if i == 0 {
			merged = *md
			merged.RowGroups, merged.NumRows = nil, 0
		} else if !reflect.DeepEqual(md.Schema, merged.Schema) {
			return Output{}, nil, fmt.Errorf("%s: its columns are not %s's: the files cannot be merged", p, files[0])
		}
		// The column chunks lie between the leading magic and the footer.
		src, err := os.Open(p)
		if err != nil {
			return Output{}, nil, err
		}
		_, err = io.Copy(w, io.NewSectionReader(src, 4, data-4))
		src.Close()
		if err != nil {
			return Output{}, nil, fmt.Errorf("writing %s: %w", rel, err)
		}
		delta := offset - 4
		first = append(first, merged.NumRows)
		for _, rg := range md.RowGroups {
			rg.FileOffset += delta
			for j := range rg.Columns {
				cc := &rg.Columns[j]
				cc.FileOffset += delta
				cc.MetaData.DataPageOffset += delta
				for _, o := range []*int64{&cc.MetaData.DictionaryPageOffset, &cc.MetaData.IndexPageOffset, &cc.OffsetIndexOffset, &cc.ColumnIndexOffset, &cc.MetaData.BloomFilterOffset} {
					if *o != 0 {
						*o += delta
					}
				}
			}
			rg.Ordinal = int16(len(merged.RowGroups))
			merged.RowGroups = append(merged.RowGroups, rg)
			merged.NumRows += rg.NumRows
		}
		offset += data - 4
	}
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), &merged)
	if err != nil {
		return Output{}, nil, err
	}
	tail := binary.LittleEndian.AppendUint32(footer, uint32(len(footer)))
	if _, err := w.Write(append(tail, "PAR1"...)); err != nil {
		return Output{}, nil, fmt.Errorf("writing %s: %w", rel, err)
	}
	if err := f.Sync(); err != nil {
		return Output{}, nil, fmt.Errorf("writing %s: %w", rel, err)
	}
	if err := f.Close(); err != nil {
		return Output{}, nil, fmt.Errorf("writing %s: %w", rel, err)
	}
	return Output{Path: rel, Rows: merged.NumRows, Bytes: offset + int64(len(footer)) + 8, SHA256: hex.EncodeToString(h.Sum(nil))}, first, nil
}

// readFooter reads a Parquet file's footer, and where it begins.
func readFooter(p string) (*format.FileMetaData, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	var tail [8]byte
	if st.Size() < 12 {
		return nil, 0, fmt.Errorf("%s: not a Parquet file", p)
	}
	if _, err := f.ReadAt(tail[:], st.Size()-8); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", p, err)
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if string(tail[4:]) != "PAR1" || n > st.Size()-12 {
		return nil, 0, fmt.Errorf("%s: not a Parquet file", p)
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, st.Size()-8-n); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", p, err)
	}
	md := new(format.FileMetaData)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), b, md); err != nil {
		return nil, 0, fmt.Errorf("%s: its footer: %w", p, err)
	}
	return md, st.Size() - 8 - n, nil
}
