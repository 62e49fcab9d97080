package billing

import (
	"encoding/json"
	"unicode/utf8"
)

// AppendJSONObject appends a JSON object of n members in the order given:
// member i is key(i) and the JSON of its value (nil is null). Go's maps
// would sort the keys; a reject's record and a query row keep theirs (and
// tags, written by tagsJSON with the same members, no value boxed).
func AppendJSONObject(b []byte, n int, member func(i int) (key string, value any)) ([]byte, error) {
	b = append(b, '{')
	for i := range n {
		k, v := member(i)
		b = appendJSONKey(b, i, k)
		if vs, ok := v.(string); ok {
			b = AppendJSONString(b, vs)
			continue
		}
		vj, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		b = append(b, vj...)
	}
	return append(b, '}'), nil
}

// appendJSONKey appends the key of an object's member i, after a comma but
// for the first, and its colon.
func appendJSONKey(b []byte, i int, k string) []byte {
	if i > 0 {
		b = append(b, ',')
	}
	return append(AppendJSONString(b, k), ':')
}

// AppendJSONString appends s as a JSON string, byte for byte as
// json.Marshal writes it (HTML's <, > and & escaped, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped; TestAppendJSONString holds the two
// to the same bytes), without its reflection and allocations.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
