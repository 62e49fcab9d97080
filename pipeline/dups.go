package pipeline

// dupSet marks the lines rejected as duplicates, by file and row: a bitmap
// per file, grown to the last duplicate's row. It takes at most a bit per
// row read (1.2 MB for ten million rows), and nothing when no line repeats.
type dupSet struct {
	files [][]uint64
	n     int64
}

func (d *dupSet) add(file int, row int64) {
	for len(d.files) <= file {
		d.files = append(d.files, nil)
	}
	bits := d.files[file]
	w := int(row / 64)
	if w >= len(bits) {
		bits = append(bits, make([]uint64, w+1-len(bits))...)
		d.files[file] = bits
	}
	if bits[w]&(1<<(row%64)) == 0 {
		bits[w] |= 1 << (row % 64)
		d.n++
	}
}

func (d *dupSet) has(seq uint64) bool {
	if d.n == 0 {
		return false
	}
	file, row := placeOf(seq)
	if file >= len(d.files) {
		return false
	}
	bits := d.files[file]
	w := int(row / 64)
	return w < len(bits) && bits[w]&(1<<(row%64)) != 0
}
