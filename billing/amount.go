package billing

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/bits"

	"github.com/shopspring/decimal"
)

// Scale is the number of fractional digits every amount is held at.
const Scale = 9

// Amount is an exact money amount in units of 10^-9: DECIMAL(18,9). Its
// absolute value is below 10^9 (CONTRACT.md, Values), so it fits an int64
// with room to spare. No float ever holds an amount.
type Amount int64

// maxAmount is the exclusive bound on |Amount|: 10^9 in units of 10^-9.
const maxAmount = 1_000_000_000 * 1_000_000_000

// Errors returned by ParseAmount.
var (
	ErrAmountSyntax    = errors.New("not a plain decimal number")
	ErrAmountRange     = errors.New("amount is not below 10^9 in absolute value")
	ErrAmountPrecision = errors.New("amount has more than 9 fractional digits")
)

// ParseAmount parses a plain decimal: an optional sign, digits, and an
// optional point with more digits ("12", "-0.5", "+3.141592653", ".5").
// Exponents, grouping separators and spaces are errors. Fractional digits past
// the ninth must be zero; a value of 10^9 or more in absolute value is an
// error. Nothing is rounded.
func ParseAmount(s string) (Amount, error) {
	i, neg := 0, false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var v int64
	intDigits, fracDigits, significant := 0, 0, 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		intDigits++
		if significant == 0 && s[i] == '0' {
			continue // a leading zero
		}
		if significant++; significant > 9 {
			return 0, fmt.Errorf("%w: %q", ErrAmountRange, s)
		}
		v = v*10 + int64(s[i]-'0')
	}
	v *= 1e9
	if i < len(s) && s[i] == '.' {
		i++
		mul := int64(1e8)
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			d := int64(s[i] - '0')
			if fracDigits >= 9 {
				if d != 0 {
					return 0, fmt.Errorf("%w: %q", ErrAmountPrecision, s)
				}
			} else {
				v += d * mul
				mul /= 10
			}
			fracDigits++
		}
		if fracDigits == 0 && intDigits == 0 {
			return 0, fmt.Errorf("%w: %q", ErrAmountSyntax, s)
		}
	}
	if i != len(s) || intDigits+fracDigits == 0 {
		return 0, fmt.Errorf("%w: %q", ErrAmountSyntax, s)
	}
	if v >= maxAmount {
		return 0, fmt.Errorf("%w: %q", ErrAmountRange, s)
	}
	if neg {
		v = -v
	}
	return Amount(v), nil
}

// String formats a at the fixed scale of 9, e.g. "-12.500000000".
func (a Amount) String() string {
	return decimal.New(int64(a), -Scale).StringFixed(Scale)
}

// Sum is an exact sum of amounts: a 128-bit two's-complement integer in units
// of 10^-9, enough for DECIMAL(38,9). The zero value is zero.
type Sum struct {
	hi int64
	lo uint64
}

// Add adds a to s.
func (s *Sum) Add(a Amount) {
	var carry uint64
	s.lo, carry = bits.Add64(s.lo, uint64(a), 0)
	ext := int64(a) >> 63 // sign extension of a: 0 or -1
	s.hi = s.hi + ext + int64(carry)
}

// AddSum adds t to s.
func (s *Sum) AddSum(t Sum) {
	var carry uint64
	s.lo, carry = bits.Add64(s.lo, t.lo, 0)
	s.hi = s.hi + t.hi + int64(carry)
}

// Big returns the unscaled value of s.
func (s Sum) Big() *big.Int {
	b := new(big.Int).SetInt64(s.hi)
	b.Lsh(b, 64)
	return b.Add(b, new(big.Int).SetUint64(s.lo))
}

// Decimal returns s as an exact decimal.
func (s Sum) Decimal() decimal.Decimal { return decimal.NewFromBigInt(s.Big(), -Scale) }

// String formats s at the fixed scale of 9.
func (s Sum) String() string { return s.Decimal().StringFixed(Scale) }

// Bytes16 returns s as 16 big-endian two's-complement bytes, the Parquet
// FIXED_LEN_BYTE_ARRAY(16) encoding of DECIMAL(38,9).
func (s Sum) Bytes16() []byte { return s.AppendBytes16(make([]byte, 0, 16)) }

// AppendBytes16 appends the 16 bytes Bytes16 returns to b.
func (s Sum) AppendBytes16(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(s.hi))
	return binary.BigEndian.AppendUint64(b, s.lo)
}

// SumFromBytes16 is the inverse of [Sum.Bytes16].
func SumFromBytes16(b []byte) Sum {
	var s Sum
	for i := 0; i < 8; i++ {
		s.hi = s.hi<<8 | int64(b[i])
		s.lo = s.lo<<8 | uint64(b[8+i])
	}
	return s
}

// SumOf returns a as a Sum.
func SumOf(a Amount) Sum {
	var s Sum
	s.Add(a)
	return s
}

// Sub subtracts a from s.
func (s *Sum) Sub(a Amount) { s.Add(-a) } // |a| < 10^18: -a never overflows

// SubSum subtracts t from s.
func (s *Sum) SubSum(t Sum) {
	var borrow uint64
	s.lo, borrow = bits.Sub64(s.lo, t.lo, 0)
	s.hi = s.hi - t.hi - int64(borrow)
}

// Sign returns -1, 0 or +1.
func (s Sum) Sign() int {
	switch {
	case s.hi < 0:
		return -1
	case s.hi == 0 && s.lo == 0:
		return 0
	}
	return 1
}

// Cmp compares s and t: -1, 0 or +1.
func (s Sum) Cmp(t Sum) int {
	d := s
	d.SubSum(t)
	return d.Sign()
}

// Amount returns s as an Amount; s must be below 10^9 in absolute value.
func (s Sum) Amount() Amount { return Amount(int64(s.lo)) }

// ParseSum parses a sum as [Sum.String] formats it: an exact decimal with
// at most Scale fractional digits that fits 128 bits.
func ParseSum(s string) (Sum, error) {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return Sum{}, fmt.Errorf("not a decimal: %q", s)
	}
	if d.Exponent() < -Scale && !d.Equal(d.Truncate(Scale)) {
		return Sum{}, fmt.Errorf("more than %d fractional digits: %q", Scale, s)
	}
	b := d.Shift(Scale).BigInt()
	if b.BitLen() > 126 {
		return Sum{}, fmt.Errorf("out of range: %q", s)
	}
	var sum Sum
	mask := new(big.Int).SetUint64(^uint64(0))
	abs := new(big.Int).Abs(b)
	sum.lo = new(big.Int).And(abs, mask).Uint64()
	sum.hi = new(big.Int).Rsh(abs, 64).Int64()
	if b.Sign() < 0 {
		neg := Sum{}
		neg.SubSum(sum)
		sum = neg
	}
	return sum, nil
}
