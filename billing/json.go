package billing

import "encoding/json"

// AppendJSONObject appends a JSON object of n members in the order given:
// member i is key(i) and the JSON of its value (nil is null). Go's maps
// would sort the keys; a reject's record, a query row and tags keep theirs.
func AppendJSONObject(b []byte, n int, member func(i int) (key string, value any)) ([]byte, error) {
	b = append(b, '{')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		k, v := member(i)
		kj, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vj, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, kj...), ':'), vj...)
	}
	return append(b, '}'), nil
}
