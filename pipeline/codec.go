package pipeline

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"github.com/billcons/billcons/billing"
)

// The spill record of a usage line. Pass A stores the line with where it was
// read and the raw text of the columns whose canonical form may differ (for a
// duplicate's reject record); pass C stores the line with its payer instead.

// rawCols are the usage columns whose raw text is kept for rejects: the others
// (ids, codes, billing_cycle, currency) are stored exactly as read.
var rawCols = [...]int{
	billing.ColSubscriptionType, billing.ColUsageStart, billing.ColUsageEnd, billing.ColListAmount,
	billing.ColPaymentStatus, billing.ColIssuedAt, billing.ColSettledAt,
}

type spilled struct {
	line    billing.UsageLine
	file    int
	row     int64
	raw     [len(rawCols)]string
	hasRaw  bool
	payer   string
	decided string
	held    string
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodeLine(b []byte, s *spilled) []byte {
	l := &s.line
	b = binary.AppendUvarint(b, l.Seq)
	b = binary.AppendUvarint(b, uint64(s.file))
	b = binary.AppendUvarint(b, uint64(s.row))
	b = appendString(b, l.LineID)
	b = appendString(b, l.AccountID)
	b = appendString(b, l.ProductCode)
	b = appendString(b, l.Currency)
	b = binary.AppendVarint(b, int64(l.Cycle))
	b = append(b, byte(l.SubscriptionType), byte(l.PaymentStatus))
	b = binary.AppendVarint(b, int64(l.UsageStart))
	b = binary.AppendVarint(b, int64(l.UsageEnd))
	b = binary.AppendVarint(b, int64(l.IssuedAt))
	b = binary.AppendVarint(b, int64(l.ListAmount))
	if l.HasSettledAt {
		b = append(b, 1)
		b = binary.AppendVarint(b, int64(l.SettledAt))
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
	if s.hasRaw {
		b = append(b, 1)
		for _, r := range s.raw {
			b = appendString(b, r)
		}
	} else {
		b = append(b, 0)
		b = appendString(b, s.payer)
		b = appendString(b, s.decided)
		b = appendString(b, s.held)
	}
	return b
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
	var s string
	if d.view && n > 0 {
		s = unsafe.String(&d.b[0], n)
	} else {
		s = string(d.b[:n])
	}
	d.b = d.b[n:]
	return s
}

// decodeLine decodes a spilled line; its strings are its own.
func decodeLine(b []byte, s *spilled) error { return decodeLineFrom(decoder{b: b}, s) }

// viewLine decodes a spilled line whose strings point into b: valid only
// while b is, and never to be kept (clone what must outlive it). Passes B
// and C decode every line and keep almost none: this saves an allocation
// per value.
func viewLine(b []byte, s *spilled) error { return decodeLineFrom(decoder{b: b, view: true}, s) }

func decodeLineFrom(d decoder, s *spilled) error {
	b := d.b
	l := &s.line
	l.Seq = d.uvarint()
	s.file = int(d.uvarint())
	s.row = int64(d.uvarint())
	l.LineID = d.string()
	l.AccountID = d.string()
	l.ProductCode = d.string()
	l.Currency = d.string()
	l.Cycle = billing.Cycle(d.varint())
	l.SubscriptionType = billing.SubscriptionType(d.byte())
	l.PaymentStatus = billing.PaymentStatus(d.byte())
	l.UsageStart = billing.Time(d.varint())
	l.UsageEnd = billing.Time(d.varint())
	l.IssuedAt = billing.Time(d.varint())
	l.ListAmount = billing.Amount(d.varint())
	l.HasSettledAt = d.byte() == 1
	l.SettledAt = 0
	if l.HasSettledAt {
		l.SettledAt = billing.Time(d.varint())
	}
	n := int(d.uvarint())
	if n > len(b) {
		return errCorrupt
	}
	l.Extra = l.Extra[:0]
	for i := 0; i < n; i++ {
		if d.byte() == 1 {
			l.Extra = append(l.Extra, billing.NullString{S: d.string(), Valid: true})
		} else {
			l.Extra = append(l.Extra, billing.NullString{})
		}
	}
	s.hasRaw = d.byte() == 1
	if s.hasRaw {
		for i := range s.raw {
			s.raw[i] = d.string()
		}
	} else {
		s.payer = d.string()
		s.decided = d.string()
		s.held = d.string()
	}
	if d.err {
		return errCorrupt
	}
	return nil
}
