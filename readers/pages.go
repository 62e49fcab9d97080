package readers

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// A column chunk in the common encodings is read by billcons itself, a page
// at a time and a value at a time, so that memory does not depend on how
// another tool chose its row groups. parquet-go decodes
// a whole page into typed slices (4 bytes a dictionary index, a byte a
// definition level) beside the compressed and decompressed bytes; DuckDB
// writes one page per column chunk, so a row group of 1,000,000 rows held
// about 120 MB per reader. Here a page is held once, decompressed and still
// encoded (a dictionary index takes its bit width), and decoded as the rows
// are filled. A page must still be decompressed whole: Snappy and zstd
// frames are not cut by rows.
//
// A chunk streams when its physical type is INT32, INT64 or BYTE_ARRAY, it
// is not encrypted, and its encodings are PLAIN, RLE (levels) and
// dictionary; any other chunk is read by parquet-go's pages (columns.go).

// streamable reports whether a column chunk can be streamed.
func streamable(md *format.ColumnChunk) bool {
	if md.CryptoMetadata.Value != nil || len(md.EncryptedColumnMetadata) > 0 || md.FilePath != "" {
		return false
	}
	switch md.MetaData.Type {
	case format.Int32, format.Int64, format.ByteArray:
	default:
		return false
	}
	for _, e := range md.MetaData.Encoding {
		switch e {
		case format.Plain, format.RLE, format.PlainDictionary, format.RLEDictionary:
		default:
			return false
		}
	}
	if md.MetaData.Codec != format.Uncompressed && parquet.LookupCompressionCodec(md.MetaData.Codec) == nil {
		return false
	}
	return true
}

// stream reads one column chunk's pages.
type stream struct {
	sec      *io.SectionReader
	r        *bufio.Reader // reads sec
	dec      *thrift.Decoder
	codec    compress.Codec
	optional bool
	phys     format.Type

	comp []byte // the page as stored
	page []byte // decompressed

	values  int // values (nulls included) left in the page
	defs    rle // definition levels, for an optional column
	dict    bool
	idx     rle    // dictionary indexes
	plain   []byte // PLAIN values not yet read
	rows    int64  // the row group's rows not yet in a page
	hasDict bool   // the chunk's dictionary page was read
}

// maxPageBytes bounds a page's decompressed size: 256 MiB, eight times
// what DuckDB's largest pages (a 1,000,000-row group's column) hold.
const maxPageBytes = 256 << 20

// reset starts s on column chunk md of r, a file of fileSize bytes, in a
// row group of rows rows, keeping its buffers.
func (s *stream) reset(r io.ReaderAt, fileSize int64, md *format.ColumnChunk, rows int64, optional bool) {
	start := md.MetaData.DataPageOffset
	if d := md.MetaData.DictionaryPageOffset; d > 0 && d < start {
		start = d
	}
	start = max(0, min(start, fileSize))
	sec := io.NewSectionReader(r, start, max(0, min(md.MetaData.TotalCompressedSize, fileSize-start)))
	s.sec = sec
	// The buffer fits the chunk, up to 64 KiB: a small file's chunks are a
	// few hundred bytes, and 64 KiB zeroed for each of them was most of
	// verify's time on a tree of many small bills files.
	if want := int(min(sec.Size(), 64<<10)); s.r == nil || s.r.Size() < want {
		s.r = bufio.NewReaderSize(sec, want)
		var proto thrift.CompactProtocol
		s.dec = thrift.NewDecoder(proto.NewReader(s.r))
	} else {
		s.r.Reset(sec)
	}
	s.optional, s.phys = optional, md.MetaData.Type
	s.codec = nil
	if md.MetaData.Codec != format.Uncompressed {
		s.codec = parquet.LookupCompressionCodec(md.MetaData.Codec)
	}
	s.values, s.dict, s.hasDict, s.plain = 0, false, false, nil
	s.rows = rows
}

var errShortPage = errors.New("page ends before its values")

// checkPages reads the page headers of a column chunk that parquet-go will
// read, before it does: parquet-go allocates the sizes a page header
// states, so a corrupt header of a few bytes made it allocate hundreds of
// megabytes (FuzzParquet). A page must fit in what is left of the chunk,
// and decompress to at most maxPageBytes. Only the headers are read: each
// page's body is skipped by seeking, so the chunk is not read twice.
func checkPages(r io.ReaderAt, fileSize int64, md *format.ColumnChunk) error {
	var s stream
	s.reset(r, fileSize, md, 0, false)
	s.r = bufio.NewReaderSize(s.sec, 512) // a header is small; a page body is skipped
	var proto thrift.CompactProtocol
	s.dec = thrift.NewDecoder(proto.NewReader(s.r))
	for {
		var h format.PageHeader
		if err := s.dec.Decode(&h); err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("page header: %w", err)
		}
		if err := s.checkSizes(&h); err != nil {
			return err
		}
		next := s.sec.Size() - s.remaining() + int64(h.CompressedPageSize)
		if _, err := s.sec.Seek(next, io.SeekStart); err != nil {
			return err
		}
		s.r.Reset(s.sec)
	}
}

// checkSizes checks the sizes a page header states.
func (s *stream) checkSizes(h *format.PageHeader) error {
	if h.CompressedPageSize < 0 || h.UncompressedPageSize < 0 || int64(h.CompressedPageSize) > s.remaining() || h.UncompressedPageSize > maxPageBytes {
		return fmt.Errorf("page header states %d bytes stored, %d decompressed, with %d bytes left in the column chunk", h.CompressedPageSize, h.UncompressedPageSize, s.remaining())
	}
	return nil
}

// nextPage reads pages until a data page, loading a dictionary page into c.
func (s *stream) nextPage(c *column) error {
	for {
		var h format.PageHeader
		if err := s.dec.Decode(&h); err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF // the row group promised more rows
			}
			return fmt.Errorf("page header: %w", err)
		}
		if err := s.checkSizes(&h); err != nil {
			return err
		}
		s.comp = resize(s.comp, int(h.CompressedPageSize))
		if _, err := io.ReadFull(s.r, s.comp); err != nil {
			return fmt.Errorf("page of %d bytes: %w", h.CompressedPageSize, err)
		}
		if h.CRC != 0 && uint32(h.CRC) != crc32.ChecksumIEEE(s.comp) {
			return fmt.Errorf("page checksum does not match")
		}
		switch h.Type {
		case format.DictionaryPage:
			if !h.DictionaryPageHeader.Valid {
				return fmt.Errorf("dictionary page without its header")
			}
			e := h.DictionaryPageHeader.V.Encoding
			if e != format.Plain && e != format.PlainDictionary {
				return fmt.Errorf("dictionary page encoded %s", e)
			}
			data, err := s.decompress(s.comp, int(h.UncompressedPageSize))
			if err != nil {
				return err
			}
			if err := s.loadDictionary(c, data, int(h.DictionaryPageHeader.V.NumValues)); err != nil {
				return err
			}
		case format.DataPage:
			if !h.DataPageHeader.Valid {
				return fmt.Errorf("data page without its header")
			}
			ph := &h.DataPageHeader.V
			data, err := s.decompress(s.comp, int(h.UncompressedPageSize))
			if err != nil {
				return err
			}
			if s.codec != nil && cap(s.comp) > 1<<20 {
				s.comp = nil // a large page is held once, decompressed
			}
			var levels []byte
			if s.optional {
				if ph.DefinitionLevelEncoding != format.RLE {
					return fmt.Errorf("definition levels encoded %s", ph.DefinitionLevelEncoding)
				}
				if len(data) < 4 {
					return errShortPage
				}
				n := binary.LittleEndian.Uint32(data)
				if uint64(n) > uint64(len(data)-4) {
					return errShortPage
				}
				levels, data = data[4:4+n], data[4+n:]
			}
			return s.startData(c, int(ph.NumValues), ph.Encoding, levels, data)
		case format.DataPageV2:
			if !h.DataPageHeaderV2.Valid {
				return fmt.Errorf("data page without its header")
			}
			ph := &h.DataPageHeaderV2.V
			rl, dl := int(ph.RepetitionLevelsByteLength), int(ph.DefinitionLevelsByteLength)
			if rl != 0 {
				return fmt.Errorf("repetition levels in a flat column")
			}
			if dl < 0 || dl > len(s.comp) {
				return errShortPage
			}
			levels, data := s.comp[:dl], s.comp[dl:]
			if !ph.IsCompressed.Valid || ph.IsCompressed.V {
				// The levels stay in comp; the values are decompressed
				// into page.
				var err error
				if data, err = s.decompress(data, int(h.UncompressedPageSize)-dl); err != nil {
					return err
				}
			}
			if !s.optional {
				levels = nil
			}
			return s.startData(c, int(ph.NumValues), ph.Encoding, levels, data)
		default: // an index page, or a page type from a later format: skipped
		}
	}
}

// remaining is the bytes of the chunk not yet read: what a page may hold
// at most, bounded by the file's end (a chunk's stated size is not
// trusted).
func (s *stream) remaining() int64 {
	pos, _ := s.sec.Seek(0, io.SeekCurrent)
	return s.sec.Size() - pos + int64(s.r.Buffered())
}

// decompress returns src decompressed into the stream's page buffer (src
// itself when the chunk is not compressed).
func (s *stream) decompress(src []byte, size int) ([]byte, error) {
	if s.codec == nil {
		return src, nil
	}
	if size < 0 {
		return nil, errShortPage
	}
	// The buffer grows as the codec writes: a corrupt header's size is
	// not allocated up front.
	out, err := s.codec.Decode(s.page[:0], src)
	if err != nil {
		return nil, fmt.Errorf("decompressing a page: %w", err)
	}
	if len(out) != size {
		return nil, fmt.Errorf("page decompressed to %d bytes; its header states %d", len(out), size)
	}
	s.page = out
	return out, nil
}

// startData starts a data page of n values (nulls included).
func (s *stream) startData(c *column, n int, e format.Encoding, levels, data []byte) error {
	if n < 0 || int64(n) > s.rows {
		return fmt.Errorf("page of %d values, with %d rows left in its row group", n, s.rows)
	}
	s.rows -= int64(n)
	s.values = n
	s.defs = rle{data: levels, width: 1}
	s.plain = nil
	c.ascii = false
	switch e {
	case format.Plain:
		s.dict = false
		s.plain = data
		// The lengths' bytes are below 0x80 too while values are shorter
		// than 128 bytes; a longer value only costs the page its shortcut.
		c.ascii = isASCII(data)
	case format.PlainDictionary, format.RLEDictionary:
		if !s.hasDict {
			return fmt.Errorf("dictionary-encoded page without a dictionary")
		}
		if len(data) < 1 || data[0] > 32 {
			return errShortPage
		}
		s.dict = true
		s.idx = rle{data: data[1:], width: uint(data[0])}
	default:
		return fmt.Errorf("values encoded %s", e)
	}
	return nil
}

// loadDictionary reads a PLAIN dictionary page of n values into c.
func (s *stream) loadDictionary(c *column, data []byte, n int) error {
	if n < 0 {
		return errShortPage
	}
	s.hasDict = true
	switch s.phys {
	case format.Int32:
		i32, ok := plainInts[int32](data, n)
		if !ok {
			return errShortPage
		}
		c.loadDictionary(n, i32, nil, nil, nil, nil)
	case format.Int64:
		i64, ok := plainInts[int64](data, n)
		if !ok {
			return errShortPage
		}
		c.loadDictionary(n, nil, i64, nil, nil, nil)
	case format.ByteArray:
		if n > len(data)/4 {
			return errShortPage
		}
		offs := make([]uint32, 0, n+1)
		b := make([]byte, 0, len(data)-4*n)
		offs = append(offs, 0)
		for range n {
			v, rest, ok := plainBytes(data)
			if !ok {
				return errShortPage
			}
			data = rest
			b = append(b, v...)
			offs = append(offs, uint32(len(b)))
		}
		c.loadDictionary(n, nil, nil, b, offs, nil)
	}
	return nil
}

// plainInts reads n PLAIN little-endian integers of T's width.
func plainInts[T int32 | int64](data []byte, n int) ([]T, bool) {
	w := int(unsafe.Sizeof(T(0)))
	if len(data) < w*n {
		return nil, false
	}
	out := make([]T, n)
	for i := range out {
		if w == 4 {
			out[i] = T(int32(binary.LittleEndian.Uint32(data[4*i:])))
		} else {
			out[i] = T(int64(binary.LittleEndian.Uint64(data[8*i:])))
		}
	}
	return out, true
}

// plainBytes reads one PLAIN BYTE_ARRAY value.
func plainBytes(data []byte) (v, rest []byte, ok bool) {
	if len(data) < 4 {
		return nil, nil, false
	}
	n := binary.LittleEndian.Uint32(data)
	if uint64(n) > uint64(len(data)-4) {
		return nil, nil, false
	}
	return data[4 : 4+n], data[4+n:], true
}

// release lets go of a large page's buffers once a row group is read, so
// that one file's huge pages do not stay for the rest of the run.
func (s *stream) release() {
	if cap(s.comp) > 1<<20 {
		s.comp = nil
	}
	if cap(s.page) > 1<<20 {
		s.page = nil
	}
}

// fillStream reads the column's values for the batch's rows from its
// stream.
func (c *column) fillStream(b *batch) error {
	s := c.stream
	for i := range b.rows {
		for s.values == 0 {
			if err := s.nextPage(c); err != nil {
				return err
			}
		}
		s.values--
		if s.optional {
			lvl, err := s.defs.next()
			if err != nil || lvl > 1 {
				return fmt.Errorf("definition levels: %v", cmpOr(err, errBadLevel))
			}
			if lvl == 0 {
				b.null(i, c.pos)
				continue
			}
		}
		if s.dict {
			j, err := s.idx.next()
			if err != nil {
				return fmt.Errorf("dictionary indexes: %w", err)
			}
			if err := c.dictValue(b, i, int64(j)); err != nil {
				return err
			}
			continue
		}
		switch s.phys {
		case format.Int64:
			if len(s.plain) < 8 {
				return errShortPage
			}
			c.int64Value(b, i, int64(binary.LittleEndian.Uint64(s.plain)))
			s.plain = s.plain[8:]
		case format.Int32:
			if len(s.plain) < 4 {
				return errShortPage
			}
			c.int32Value(b, i, int32(binary.LittleEndian.Uint32(s.plain)))
			s.plain = s.plain[4:]
		case format.ByteArray:
			v, rest, ok := plainBytes(s.plain)
			if !ok {
				return errShortPage
			}
			s.plain = rest
			c.bytesValue(b, i, v)
		}
	}
	return nil
}

var errBadLevel = errors.New("a definition level above 1 in a flat column")

func cmpOr(err, or error) error {
	if err != nil {
		return err
	}
	return or
}

// rle reads the RLE / bit-packing hybrid encoding of levels and dictionary
// indexes, a value at a time.
type rle struct {
	data  []byte
	width uint
	run   int    // values left in the current RLE run
	value uint32 // its value
	pack  []byte // the current bit-packed run
	pos   int    // the next value's index in it
	packN int    // values left in it
}

func (d *rle) next() (uint32, error) {
	for {
		if d.run > 0 {
			d.run--
			return d.value, nil
		}
		if d.packN > 0 {
			d.packN--
			v := unpack(d.pack, d.pos, d.width)
			d.pos++
			return v, nil
		}
		h, n := binary.Uvarint(d.data)
		if n <= 0 {
			return 0, errShortPage
		}
		d.data = d.data[n:]
		if h&1 == 0 { // an RLE run
			w := int(d.width+7) / 8
			if len(d.data) < w || h>>1 == 0 || h>>1 > 1<<31 {
				return 0, errShortPage
			}
			var v uint32
			for k := w - 1; k >= 0; k-- {
				v = v<<8 | uint32(d.data[k])
			}
			d.data = d.data[w:]
			d.run, d.value = int(h>>1), v
			continue
		}
		groups := h >> 1
		if groups == 0 || groups > 1<<28 {
			return 0, errShortPage
		}
		size := int(groups) * int(d.width)
		if size > len(d.data) {
			size = len(d.data) // a writer may end the last run early
		}
		d.pack, d.data = d.data[:size], d.data[size:]
		d.pos, d.packN = 0, int(groups)*8
		if d.width > 0 {
			d.packN = min(d.packN, size*8/int(d.width))
		}
		if d.packN == 0 {
			return 0, errShortPage
		}
	}
}

// unpack returns the i-th value of width bits, least significant bit first.
func unpack(b []byte, i int, width uint) uint32 {
	if width == 0 {
		return 0
	}
	bit := uint(i) * width
	k := int(bit >> 3)
	var w uint64
	for j := 0; j < 5 && k+j < len(b); j++ {
		w |= uint64(b[k+j]) << (8 * j)
	}
	return uint32(w>>(bit&7)) & (1<<width - 1)
}
