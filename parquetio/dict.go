package parquetio

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// A text column chunk whose values repeat is written dictionary encoded:
// a dictionary page holding each distinct value once (PLAIN), then a data
// page of the values' indexes into it (RLE_DICTIONARY: a byte giving the
// indexes' bit width, then the RLE/bit-packing hybrid), as parquet-format's
// Encodings.md defines them. A bills file's payer, member, product,
// currency, rule and region columns hold a few values each, repeated on
// every line: written PLAIN they were most of the bytes given to the
// compressor (at 10M lines of many payers, 1.3 GB of the bills' 2.4 GB),
// only to be compressed back to almost nothing. A chunk whose values are
// mostly distinct (line ids) stays PLAIN: the dictionary is given up as
// soon as that shows, and whenever it would not be smaller.

// dictScan is how many entries are searched one by one before a value
// is looked up in a map.
const dictScan = 16

// dict is the dictionary of the text column chunk being written.
type dict struct {
	vals  []byte            // the chunk's PLAIN values: a 4-byte length, then the bytes
	ents  []dictEntry       // the distinct values in order of first appearance
	idx   []uint32          // each value's entry
	index map[string]uint32 // the entries, once there are more than dictScan
	page  []byte            // the dictionary page's values: the entries PLAIN
	out   []byte            // the data page's values: bit width and indexes
}

// dictEntry is a distinct value: vals[off : off+n].
type dictEntry struct{ off, n int32 }

func (d *dict) entry(e uint32) []byte {
	x := d.ents[e]
	return d.vals[x.off : x.off+x.n]
}

// build makes the dictionary of a chunk's n PLAIN text values and reports
// whether the chunk is to be written with it.
func (d *dict) build(vals []byte, n int) bool {
	if n < 2 {
		return false
	}
	d.vals, d.ents, d.idx = vals, d.ents[:0], d.idx[:0]
	if len(d.index) > 0 {
		clear(d.index)
	}
	prev := -1 // the entry of the value before
	for p := 0; p < len(vals); {
		l := int32(binary.LittleEndian.Uint32(vals[p:]))
		off := int32(p + 4)
		v := vals[off : off+l]
		p = int(off + l)
		// Values come in runs (a member's lines together): the value
		// before is the first one tried.
		if prev >= 0 && string(v) == string(d.entry(uint32(prev))) {
			d.idx = append(d.idx, uint32(prev))
			continue
		}
		e, ok := d.find(v)
		if !ok {
			e = uint32(len(d.ents))
			d.ents = append(d.ents, dictEntry{off, l})
			if len(d.ents) > dictScan {
				if len(d.ents) == dictScan+1 {
					if d.index == nil {
						d.index = make(map[string]uint32)
					}
					for i := range d.ents[:dictScan] {
						d.index[d.key(d.entry(uint32(i)))] = uint32(i)
					}
				}
				d.index[d.key(v)] = e
				// Mostly distinct so far: not worth a dictionary.
				if len(d.ents) > 64 && 2*len(d.ents) > len(d.idx) {
					return false
				}
			}
		}
		d.idx = append(d.idx, e)
		prev = int(e)
	}
	// The dictionary's bytes and the indexes against the values PLAIN.
	width := d.width()
	dictBytes := 0
	for _, x := range d.ents {
		dictBytes += 4 + int(x.n)
	}
	if dictBytes+1+(len(d.idx)*width+7)/8 >= len(vals) {
		return false
	}
	d.page = d.page[:0]
	for _, x := range d.ents {
		d.page = append(d.page, vals[x.off-4:x.off+x.n]...)
	}
	return true
}

// key is v as a map key, without a copy: the map is cleared before vals
// is filled again.
func (d *dict) key(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	return unsafe.String(&v[0], len(v))
}

// find returns v's entry, if it has one.
func (d *dict) find(v []byte) (uint32, bool) {
	if len(d.ents) > dictScan {
		e, ok := d.index[d.key(v)]
		return e, ok
	}
	for i := range d.ents {
		if string(v) == string(d.entry(uint32(i))) {
			return uint32(i), true
		}
	}
	return 0, false
}

// width is the indexes' bit width: at least 1.
func (d *dict) width() int { return max(1, bits.Len32(uint32(len(d.ents)-1))) }

// encodeIndexes returns the data page's values: the bit width, then the
// indexes in the RLE/bit-packing hybrid.
func (d *dict) encodeIndexes() []byte {
	w := d.width()
	d.out = append(d.out[:0], byte(w))
	d.out = appendHybrid(d.out, d.idx, w)
	return d.out
}

// stats sets m's minimum and maximum from the dictionary's entries: every
// value of the chunk is one of them.
func (d *dict) stats(f *File, m *chunkMeta) {
	lo := d.entry(0)
	hi := lo
	for i := 1; i < len(d.ents); i++ {
		lo, hi = widen(lo, hi, d.entry(uint32(i)))
	}
	f.setStats(lo, hi, m)
}

// appendHybrid appends vals in the RLE/bit-packing hybrid at bit width w
// (without the length prefix data pages leave out): a value repeated 8
// times or more as a run, the others bit-packed 8 at a time. A bit-packed
// run holds a multiple of 8 values, padded with zeros at the end only.
func appendHybrid(dst []byte, vals []uint32, w int) []byte {
	bytesW := (w + 7) / 8
	for i := 0; i < len(vals); {
		j := i + 1
		for j < len(vals) && vals[j] == vals[i] {
			j++
		}
		if j-i >= 8 {
			dst = binary.AppendUvarint(dst, uint64(j-i)<<1)
			for b := range bytesW {
				dst = append(dst, byte(vals[i]>>(8*b)))
			}
			i = j
			continue
		}
		// Groups of 8 until one starts a run of 8.
		start := i
		for i += 8; i < len(vals); i += 8 {
			j := i + 1
			for j < len(vals) && j-i < 8 && vals[j] == vals[i] {
				j++
			}
			if j-i >= 8 {
				break
			}
		}
		end := min(i, len(vals))
		groups := (end - start + 7) / 8
		dst = binary.AppendUvarint(dst, uint64(groups)<<1|1)
		var acc uint64
		var nbits int
		for k := start; k < start+groups*8; k++ {
			var v uint64
			if k < end {
				v = uint64(vals[k])
			}
			acc |= v << nbits
			nbits += w
			for nbits >= 8 {
				dst = append(dst, byte(acc))
				acc >>= 8
				nbits -= 8
			}
		}
		i = end
	}
	return dst
}
