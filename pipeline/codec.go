package pipeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"unsafe"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/writers"
)

// The spill records of a usage line. A line is spilled whole (encodeLine)
// when it waits for its payer or holds a change back; a line whose payer is
// known is spilled as a bill (billKey and encodeBill): the key orders it
// for writing and carries its text fields, the payload the rest.
//
// A line's Seq is its place in the read order: its file's index in the
// upper 24 bits, its row in the lower 40 (a trillion rows).

const rowBits = 40

func seqOf(file int, row int64) uint64 { return uint64(file)<<rowBits | uint64(row) }

func placeOf(seq uint64) (file int, row int64) {
	return int(seq >> rowBits), int64(seq & (1<<rowBits - 1))
}

// spilled is a line read back from a spill, with what was decided for it
// when that is known.
type spilled struct {
	line billing.UsageLine
	writers.Decided
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeLine encodes a whole line.
func encodeLine(b []byte, l *billing.UsageLine) []byte {
	b = appendString(b, l.LineID)
	b = appendString(b, l.AccountID)
	b = appendString(b, l.ProductCode)
	b = appendString(b, l.Currency)
	b = binary.AppendVarint(b, int64(l.Cycle))
	return encodeRest(b, l)
}

// encodeRest encodes the fields of a line that are not in a bill's key.
func encodeRest(b []byte, l *billing.UsageLine) []byte {
	b = binary.AppendUvarint(b, l.Seq)
	b = append(b, byte(l.SubscriptionType), byte(l.PaymentStatus), byte(l.ChargeType))
	b = appendString(b, l.ResourceID)
	b = binary.AppendVarint(b, int64(l.UsageStart))
	b = binary.AppendVarint(b, int64(l.UsageEnd)-int64(l.UsageStart))
	b = binary.AppendVarint(b, int64(l.IssuedAt)-int64(l.UsageEnd))
	b = binary.AppendVarint(b, int64(l.ListAmount))
	if l.HasSettledAt {
		b = append(b, 1)
		b = binary.AppendVarint(b, int64(l.SettledAt)-int64(l.IssuedAt))
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(l.Extra)))
	for _, x := range l.Extra {
		if x.Valid {
			b = append(b, 1)
			b = appendString(b, x.S)
		} else {
			b = append(b, 0)
		}
	}
	return b
}

// billKey orders bills for writing: by cycle (one partition at a time),
// then as the bills files store them: payer, member, product, usage end and
// line_id; the currency closes the key so that it carries every text field
// of a bill. Ids and codes hold no NUL byte, so NUL ends each text field;
// the usage end is 8 bytes that sort as the signed time does.
func billKey(b []byte, l *billing.UsageLine, payer string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(l.Cycle))
	for _, f := range [...]string{payer, l.AccountID, l.ProductCode} {
		b = append(b, f...)
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(l.UsageEnd)^1<<63)
	for _, f := range [...]string{l.LineID, l.Currency} {
		b = append(b, f...)
		b = append(b, 0)
	}
	return b
}

// encodeBill encodes the payload of a bill: what its key does not hold.
// The discount owner is the member or the payer: one byte says by which
// rule of rules.OwnerRules, and so which.
func encodeBill(b []byte, l *billing.UsageLine, d *rules.Decision, ld *rules.LineDiscount) []byte {
	b = encodeRest(b, l)
	b = appendString(b, d.DecidedBy)
	b = appendString(b, d.HeldBy)
	b = append(b, byte(slices.Index(rules.OwnerRules, ld.Rule)))
	b = appendString(b, ld.DiscountID)
	return binary.AppendVarint(b, int64(ld.Amount))
}

var errCorrupt = errors.New("spill record is corrupt")

type decoder struct {
	view bool // strings point into b instead of copying
	b    []byte
	err  bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) string() string {
	n := d.uvarint()
	if uint64(len(d.b)) < n {
		d.err, d.b = true, nil
		return ""
	}
	s := d.text(d.b[:n])
	d.b = d.b[n:]
	return s
}

// text returns b as a string: a view of it, or a copy.
func (d *decoder) text(b []byte) string {
	if d.view && len(b) > 0 {
		return unsafe.String(&b[0], len(b))
	}
	return string(b)
}

// viewLine decodes a whole line whose strings point into b: valid only
// while b is, and never to be kept (clone what must outlive it). Most lines
// are decoded and dropped: this saves an allocation per value.
func viewLine(b []byte, l *billing.UsageLine) error {
	d := decoder{b: b, view: true}
	d.line(l)
	if d.err {
		return errCorrupt
	}
	return nil
}

// line decodes what encodeLine encoded.
func (d *decoder) line(l *billing.UsageLine) {
	l.LineID = d.string()
	l.AccountID = d.string()
	l.ProductCode = d.string()
	l.Currency = d.string()
	l.Cycle = billing.Cycle(d.varint())
	d.rest(l)
}

func (d *decoder) rest(l *billing.UsageLine) {
	l.Seq = d.uvarint()
	l.SubscriptionType = billing.SubscriptionType(d.byte())
	l.PaymentStatus = billing.PaymentStatus(d.byte())
	l.ChargeType = billing.ChargeType(d.byte())
	l.ResourceID = d.string()
	l.UsageStart = billing.Time(d.varint())
	l.UsageEnd = l.UsageStart + billing.Time(d.varint())
	l.IssuedAt = l.UsageEnd + billing.Time(d.varint())
	l.ListAmount = billing.Amount(d.varint())
	l.HasSettledAt = d.byte() == 1
	l.SettledAt = 0
	if l.HasSettledAt {
		l.SettledAt = l.IssuedAt + billing.Time(d.varint())
	}
	n := d.uvarint()
	if n > uint64(len(d.b)) { // each value takes a byte at least
		d.err = true
		return
	}
	l.Extra = l.Extra[:0]
	for range n {
		if d.byte() == 1 {
			l.Extra = append(l.Extra, billing.NullString{S: d.string(), Valid: true})
		} else {
			l.Extra = append(l.Extra, billing.NullString{})
		}
	}
}

// viewBill decodes a bill from its key and payload; its strings point into
// them, as with viewLine.
func viewBill(key, payload []byte, s *spilled) error {
	if len(key) < 4 {
		return errCorrupt
	}
	l := &s.line
	l.Cycle = billing.Cycle(int32(binary.BigEndian.Uint32(key)))
	d := decoder{b: payload, view: true}
	rest := key[4:]
	field := func(f *string) bool {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return false
		}
		*f = d.text(rest[:i])
		rest = rest[i+1:]
		return true
	}
	if !field(&s.Payer) || !field(&l.AccountID) || !field(&l.ProductCode) || len(rest) < 8 {
		return errCorrupt
	}
	rest = rest[8:] // the usage end, which the payload holds too
	if !field(&l.LineID) || !field(&l.Currency) || len(rest) != 0 {
		return errCorrupt
	}
	d.rest(l)
	s.DecidedBy = d.string()
	s.HeldBy = d.string()
	s.DiscountOwner = l.AccountID
	if i := int(d.byte()); i < len(rules.OwnerRules) {
		s.DiscountRule = rules.OwnerRules[i].Code
		if rules.OwnerRules[i] == rules.LegacyInheritance || rules.OwnerRules[i] == rules.EntityDiscounts {
			s.DiscountOwner = s.Payer
		}
	} else {
		d.err = true
	}
	s.DiscountID = d.string()
	s.DiscountAmount = billing.Amount(d.varint())
	if d.err || len(d.b) != 0 {
		return errCorrupt
	}
	return nil
}

// encodePrepaid encodes a line a prepaid rule may reject: whether the
// adjustment rule already did, the row's raw record (for its reject) and
// the line.
func encodePrepaid(b []byte, l *billing.UsageLine, adjRejected bool, record string) []byte {
	flag := byte(0)
	if adjRejected {
		flag = 1
	}
	b = append(b, flag)
	b = appendString(b, record)
	return encodeLine(b, l)
}

// viewPrepaid decodes encodePrepaid; the line's strings and the record
// point into b.
func viewPrepaid(b []byte, l *billing.UsageLine) (adjRejected bool, record string, err error) {
	d := decoder{b: b, view: true}
	adjRejected = d.byte() == 1
	record = d.string()
	if d.err {
		return false, "", errCorrupt
	}
	return adjRejected, record, viewLine(d.b, l)
}
