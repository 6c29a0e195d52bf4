//go:build js && wasm

package main

import (
	"net/http"
	"strings"
	"syscall/js"
	"unsafe"
)

// Messages cross the bridge packed, one per direction, with no value
// marshalled by wasm_exec.js (see instance.mjs's bridge comment):
//
//   - JavaScript to Go: JavaScript writes the whole message into the
//     instance's scratch buffer (in Go's linear memory; ready() tells
//     JavaScript where it is) and passes its length as a number. A message
//     that does not fit comes as a Uint8Array argument instead. Go copies it
//     out at the start of the call, before anything can run that would let
//     JavaScript write the buffer again (JavaScript never calls Go from
//     inside a call to JavaScript).
//   - Go to JavaScript: Go passes pointers into its linear memory and lengths
//     as numbers, and JavaScript decodes or copies the bytes before the call
//     returns.
//
// Profiled in workerd, each string or byte slice passed through syscall/js
// cost an encode or decode plus one or two calls across the boundary and an
// entry in wasm_exec.js's value table (a request and its Stripe call made
// about a dozen); numbers cross for free.

// scratchSize holds the largest request body the loader lets through
// (MAX_REQUEST_BYTES, 256 KiB) with room for its method, URL and headers.
const scratchSize = 288 << 10

// scratch is where JavaScript writes the messages it sends; it lives as long
// as the instance (never freed, never moved). Its size is scratchLen
// (spawn_*.go).
var scratch = make([]byte, scratchLen)

// readMessage copies the message JavaScript sent: n bytes in scratch, or the
// Uint8Array in arg when it did not fit.
func readMessage(n int, arg js.Value) []byte {
	b := make([]byte, n)
	if arg.Type() == js.TypeObject {
		js.CopyBytesToGo(b, arg)
	} else {
		copy(b, scratch[:n])
	}
	return b
}

// ptr is where b (or s) starts in linear memory, as JavaScript indexes it.
func ptr(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	return int(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

func strPtr(s string) int {
	if s == "" {
		return 0
	}
	return int(uintptr(unsafe.Pointer(unsafe.StringData(s))))
}

// splitHead cuts a message into its first line, its header block (parsed)
// and the body after the blank line that ends the headers:
// "FIRST LINE\nname: value\n...\n\nbody".
func splitHead(msg []byte) (first string, h http.Header, body []byte) {
	i := strings.Index(unsafe.String(unsafe.SliceData(msg), len(msg)), "\n\n")
	if i < 0 {
		return string(msg), http.Header{}, nil
	}
	head := string(msg[:i+1])
	first, rest, _ := strings.Cut(head, "\n")
	return first, parseHeaders(rest), msg[i+2:]
}
