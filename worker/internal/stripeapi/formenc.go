package stripeapi

import (
	"unsafe"

	"github.com/stripe/stripe-go/v82/form"
)

// encodeForm is form.Values.Encode, byte for byte, in one pass into one
// buffer.
//
// Why not Encode itself: per pair it escapes the key with url.QueryEscape,
// then runs strings.Replace twice on it to put the brackets back, and grows
// a bytes.Buffer as it goes. For a Checkout Session with shipping options
// and custom fields (about 60 pairs), under TinyGo in Node, that was about a
// tenth of the worker's whole create-session request (profile of
// `make bench`'s request; the two strings.Replace alone 5.8 %, each
// allocating a strings.Builder); see wasm/README.md, "Session 6".
// TestEncodeFormMatchesStripeGo holds it to Encode's output.
func encodeForm(v *form.Values) string {
	pairs := formPairs(v)
	n := 0
	for _, p := range pairs {
		n += escapedLen(p.Key, true) + 1 + escapedLen(p.Value, false) + 1
	}
	if n == 0 {
		return ""
	}
	// Written by index into a buffer of the exact length: under TinyGo
	// every append is a call into the runtime (runtime.sliceAppend), which
	// cost as much as the escaping itself.
	b := make([]byte, n-1)
	i := 0
	for j, p := range pairs {
		if j > 0 {
			b[i] = '&'
			i++
		}
		i = putEscaped(b, i, p.Key, true)
		b[i] = '='
		i = putEscaped(b, i+1, p.Value, false)
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// formValues mirrors form.Values (stripe-go v82: one field, values
// []formValue{Key, Value string}), whose pairs it does not export in order.
// The test checks the mirror against Encode, so a change of layout in a
// stripe-go upgrade fails there rather than here.
type formValues struct {
	values []formPair
}

type formPair struct {
	Key, Value string
}

func formPairs(v *form.Values) []formPair {
	if v == nil {
		return nil
	}
	return (*formValues)(unsafe.Pointer(v)).values
}

// keep reports whether url.QueryEscape leaves c as it is (RFC 3986's
// unreserved characters); a key also keeps its brackets, as Encode puts
// them back.
func keep(c byte, key bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '_', c == '.', c == '~':
		return true
	case c == '[', c == ']':
		return key
	}
	return false
}

func escapedLen(s string, key bool) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if c := s[i]; !keep(c, key) && c != ' ' {
			n += 2
		}
	}
	return n
}

const upperHex = "0123456789ABCDEF"

// putEscaped writes s escaped into b at i and returns where it ended.
func putEscaped(b []byte, i int, s string, key bool) int {
	for k := 0; k < len(s); k++ {
		switch c := s[k]; {
		case keep(c, key):
			b[i] = c
			i++
		case c == ' ':
			b[i] = '+'
			i++
		default:
			b[i], b[i+1], b[i+2] = '%', upperHex[c>>4], upperHex[c&15]
			i += 3
		}
	}
	return i
}
