package stripeapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// Decoding Stripe's answers without their unread members.
//
// A Checkout Session as Stripe sends it is about 2.8 KB in some 80 top-level
// members; CheckoutSession reads 20 of them. encoding/json walks every byte
// twice (checkValid, then decode) with a call through its scanner's state
// function per byte, and for each member no field takes it also unquotes the
// name, looks it up twice and skips the value with the scanner again. Under
// TinyGo that was about a fifth of a session-status request's Go time
// (wasm/README.md). decode first copies the answer's top level without the
// members no field of the destination can take, in one plain loop over the
// bytes, and lets encoding/json decode what is left.
//
// What encoding/json would decide is kept: a member stays if its name
// matches a field's JSON name case-insensitively (encoding/json's rule), and
// always if the name has an escape or a non-ASCII byte (encoding/json's
// folding also maps a few non-ASCII letters, such as the Kelvin sign, to
// ASCII ones). Members appear in their order, so a repeated name still ends
// with its last value. What is dropped is only checked for its structure
// (strings closed, brackets balanced, literals spelled right), not decoded;
// an answer whose structure is broken, or whose trimmed form does not decode,
// is decoded whole, so its error is encoding/json's.

// decode is json.Unmarshal(b, v) for v a pointer to a decode type of this
// package, without the members of b no field of v can take.
func decode(b []byte, v any) error {
	if names := fieldNames(reflect.TypeOf(v)); names != nil {
		if t, ok := trimObject(b, names); ok {
			if json.Unmarshal(t, v) == nil {
				return nil
			}
			// Start again from a zero value: the whole answer decides.
			e := reflect.ValueOf(v).Elem()
			e.Set(reflect.Zero(e.Type()))
		}
	}
	return json.Unmarshal(b, v)
}

var (
	namesMu    sync.Mutex
	namesCache = map[reflect.Type]map[string]bool{}
)

// fieldNames is the lower-case JSON names of the fields of *T, a struct; nil
// (decode everything) for anything else, for a type with its own
// UnmarshalJSON, or for one whose embedded structs have exported fields
// (encoding/json promotes those; not worth following here).
func fieldNames(pt reflect.Type) map[string]bool {
	namesMu.Lock()
	defer namesMu.Unlock()
	if names, ok := namesCache[pt]; ok {
		return names
	}
	var names map[string]bool
	if pt.Kind() == reflect.Pointer && pt.Elem().Kind() == reflect.Struct && !pt.Implements(unmarshalerType) {
		names = map[string]bool{}
		t := pt.Elem()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous {
				if hasExported(f.Type) {
					names = nil
					break
				}
				continue
			}
			if !f.IsExported() {
				continue
			}
			name := f.Name
			if tag := f.Tag.Get("json"); tag != "" {
				if tag == "-" {
					continue
				}
				if tagName, _, _ := strings.Cut(tag, ","); tagName != "" {
					name = tagName
				}
			}
			// Only plain ASCII names are ever looked up (trimObject keeps
			// any other), so ToLower's Unicode cases do not matter.
			names[strings.ToLower(name)] = true
		}
	}
	namesCache[pt] = names
	return names
}

var unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()

// hasExported reports whether t (a struct, or a pointer to one) has an
// exported field.
func hasExported(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return true
	}
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).IsExported() {
			return true
		}
	}
	return false
}

// trimObject copies the JSON object b without the members whose names are
// plain ASCII and, in lower case, not in names. ok is false if b is not a
// well-structured object.
func trimObject(b []byte, names map[string]bool) (out []byte, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	out = make([]byte, 0, len(b)/2)
	out = append(out, '{')
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return append(out, '}'), skipSpace(b, i+1) == len(b)
	}
	var key [64]byte
	for first := true; ; {
		start := i
		end, plain := skipString(b, i)
		if end < 0 {
			return nil, false
		}
		keep := !plain || end-i-2 > len(key)
		if !keep {
			n := copy(key[:], b[i+1:end-1])
			for j := 0; j < n; j++ {
				if c := key[j]; 'A' <= c && c <= 'Z' {
					key[j] = c + 'a' - 'A'
				}
			}
			keep = names[string(key[:n])]
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipValue(b, skipSpace(b, i+1))
		if i < 0 {
			return nil, false
		}
		if keep {
			if !first {
				out = append(out, ',')
			}
			out = append(out, b[start:i]...)
			first = false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
			continue
		case '}':
			return append(out, '}'), skipSpace(b, i+1) == len(b)
		}
		return nil, false
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] (a quote),
// or -1; plain reports that it has no escape and only ASCII bytes.
func skipString(b []byte, i int) (end int, plain bool) {
	if i >= len(b) || b[i] != '"' {
		return -1, false
	}
	plain = true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, plain
		case c == '\\':
			plain = false
			j++
		case c < 0x20:
			return -1, false
		case c >= 0x80:
			plain = false
		}
	}
	return -1, false
}

// skipValue returns the index after the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; c {
	case '"':
		end, _ := skipString(b, i)
		return end
	case '{', '[':
		// Brackets balanced in kind, strings closed.
		var stack [32]byte
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := skipString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				if depth == len(stack) {
					return -1
				}
				stack[depth] = b[j]
				depth++
			case '}', ']':
				open := byte('{')
				if b[j] == ']' {
					open = '['
				}
				if depth == 0 || stack[depth-1] != open {
					return -1
				}
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	case 't', 'f', 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
				return i + len(lit)
			}
		}
		return -1
	}
	j := i
	for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
