package writers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// WriteFloor writes data[i] to root/rels[i] (slash-separated), making the
// folders, on BillWriters goroutines: the same files holding the same bytes
// as a bills tree, with none of the encoding. It is the file-system floor
// the bills writer is measured against (make bench, and
// BenchmarkWriteBillsManyPayers).
func WriteFloor(root string, rels []string, data [][]byte) error {
	return writeFloor(root, rels, func(i int, _, _ *[]byte) ([]byte, error) { return data[i], nil })
}

// WriteCodecFloor writes files[i] to root/rels[i] as WriteFloor does, each
// page compressed again first with its column's codec: the same files and
// bytes as a bills tree (CutPages checks that they come out the same), and
// what any writer of them pays at least, the file system and the
// compression, without the merge, the encoding, the statistics or the
// checksums (make bench).
func WriteCodecFloor(root string, rels []string, files []*PagedFile) error {
	return writeFloor(root, rels, func(i int, buf, comp *[]byte) ([]byte, error) {
		b, err := files[i].AppendTo((*buf)[:0], comp)
		*buf = b
		return b, err
	})
}

// writeFloor writes the bytes file(i, ...) returns to root/rels[i], on
// BillWriters goroutines, each with buffers of its own for file to fill.
func writeFloor(root string, rels []string, file func(i int, buf, comp *[]byte) ([]byte, error)) error {
	var wg sync.WaitGroup
	errs := make([]error, BillWriters)
	for g := range BillWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf, comp []byte
			for i := g; i < len(rels); i += BillWriters {
				p := filepath.Join(root, filepath.FromSlash(rels[i]))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					errs[g] = err
					return
				}
				b, err := file(i, &buf, &comp)
				if err != nil {
					errs[g] = fmt.Errorf("%s: %w", rels[i], err)
					return
				}
				if err := os.WriteFile(p, b, 0o644); err != nil {
					errs[g] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// PagedFile is a Parquet file cut at its compressed page bodies: the bytes
// as stored (page headers, uncompressed levels, the footer) and each page's
// values decompressed, with the codec that compressed them.
type PagedFile struct {
	parts []pagePart
}

type pagePart struct {
	raw   []byte         // stored as they are
	page  []byte         // decompressed; compressed again by codec
	codec compress.Codec // nil for raw bytes
}

// CutPages cuts a Parquet file into its pages, decompressed, and checks that
// compressing them again gives the file's own bytes: the work AppendTo
// does is then the work its writer's codec did.
func CutPages(data []byte) (*PagedFile, error) {
	if len(data) < 12 || string(data[len(data)-4:]) != "PAR1" {
		return nil, errors.New("not a Parquet file")
	}
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	if n > len(data)-12 {
		return nil, errors.New("footer longer than the file")
	}
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), data[len(data)-8-n:len(data)-8], &md); err != nil {
		return nil, fmt.Errorf("footer: %w", err)
	}
	type chunk struct {
		start, end int64
		codec      compress.Codec
	}
	var chunks []chunk
	for _, rg := range md.RowGroups {
		for _, c := range rg.Columns {
			m := &c.MetaData
			start := m.DataPageOffset
			if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < start {
				start = m.DictionaryPageOffset
			}
			var codec compress.Codec
			switch m.Codec {
			case format.Uncompressed:
			case format.Zstd:
				codec = &zstdFastest // the level billcons writes
			case format.Snappy:
				codec = &snappyCodec
			default:
				if codec = parquet.LookupCompressionCodec(m.Codec); codec == nil {
					return nil, fmt.Errorf("codec %s", m.Codec)
				}
			}
			chunks = append(chunks, chunk{start, start + m.TotalCompressedSize, codec})
		}
	}
	slices.SortFunc(chunks, func(a, b chunk) int { return int(a.start - b.start) })
	f := &PagedFile{}
	raw := func(b []byte) {
		if len(b) > 0 {
			f.parts = append(f.parts, pagePart{raw: b})
		}
	}
	pos := int64(0)
	for _, c := range chunks {
		if c.start < pos || c.end > int64(len(data)) {
			return nil, fmt.Errorf("column chunk at %d overlaps or passes the end", c.start)
		}
		raw(data[pos:c.start])
		pos = c.start
		for pos < c.end {
			r := bytes.NewReader(data[pos:c.end])
			var h format.PageHeader
			if err := thrift.NewDecoder(new(thrift.CompactProtocol).NewReader(r)).Decode(&h); err != nil {
				return nil, fmt.Errorf("page header at %d: %w", pos, err)
			}
			body := pos + int64(r.Size()) - int64(r.Len())
			end := body + int64(h.CompressedPageSize)
			if h.CompressedPageSize < 0 || end > c.end {
				return nil, fmt.Errorf("page at %d passes its chunk's end", pos)
			}
			stored := body // where the compressed bytes start
			if v2 := &h.DataPageHeaderV2.V; h.Type == format.DataPageV2 {
				levels := int64(v2.RepetitionLevelsByteLength) + int64(v2.DefinitionLevelsByteLength)
				if v2.RepetitionLevelsByteLength < 0 || v2.DefinitionLevelsByteLength < 0 || levels > end-body {
					return nil, fmt.Errorf("page at %d: levels longer than the page", pos)
				}
				stored += levels
				if v2.IsCompressed.Valid && !v2.IsCompressed.V {
					stored = end
				}
			}
			if c.codec == nil || stored == end {
				raw(data[pos:end])
			} else {
				page, err := c.codec.Decode(nil, data[stored:end])
				if err != nil {
					return nil, fmt.Errorf("page at %d: %w", pos, err)
				}
				f.parts = append(f.parts, pagePart{raw: data[pos:stored], page: page, codec: c.codec})
			}
			pos = end
		}
	}
	raw(data[pos:])
	var comp []byte
	again, err := f.AppendTo(nil, &comp)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, data) {
		return nil, errors.New("its pages compressed again are not its bytes")
	}
	return f, nil
}

// AppendTo appends the file's bytes to dst, compressing each page again
// into *comp first, as the bills writer does.
func (f *PagedFile) AppendTo(dst []byte, comp *[]byte) ([]byte, error) {
	for _, p := range f.parts {
		dst = append(dst, p.raw...)
		if p.codec == nil {
			continue
		}
		c, err := p.codec.Encode((*comp)[:0], p.page)
		if err != nil {
			return nil, err
		}
		*comp = c
		dst = append(dst, c...)
	}
	return dst, nil
}
