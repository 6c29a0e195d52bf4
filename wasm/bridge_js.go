//go:build js && wasm

package main

import (
	"bytes"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"syscall/js"
)

// The bridge between instance.mjs and Go (the protocol is described once, in
// instance.mjs's comment). It replaces syumai/workers' request
// handler for a Go instance that lives for many requests:
//
//   - a request crosses as one packed message (method, URL, headers and
//     body; message_js.go) with a number that names it, and its answer as
//     pointers into linear memory passed to one reply function read at
//     start-up, so a request leaves no js.Value behind (each is an entry in
//     wasm_exec.js's value table, which under TinyGo's leaking allocator is
//     never released: a reply function per request kept each request's
//     closure, Request and body alive until the instance retired, ~5 KB
//     each, measured in Node);
//   - the JS callbacks are registered once, so nothing is left behind per
//     request (syumai/workers' stream conversion never releases its pull and
//     cancel functions, which keeps ~17 KB per body alive);
//   - under TinyGo each request runs on the goroutine that JavaScript's call
//     started (spawn_tinygo.go), and finished goroutines' stacks are reused
//     (scripts/tinygo-patches/06-stack-reuse.patch).

type bridgeRequest struct {
	id          int // instance.mjs's number for the request, passed back to reply
	method, url string
	header      http.Header
	body        []byte
}

type server struct {
	h     http.Handler
	reply js.Value // the bridge's reply(id, status, headersPtr, headersLen, bodyPtr, bodyLen)
}

// serveFunc is called by instance.mjs as serve(id, length, message?): the
// request is "METHOD URL\n", its headers, a blank line and its body, in
// scratch or in message (message_js.go); id names it in the reply. Nothing
// in args is kept past this call (instance.mjs releases them: see its
// releaseCallbackValues).
func (s *server) serveFunc(_ js.Value, args []js.Value) any {
	seedRand() // before any input is handled (seed_tinygo.go)
	var msg js.Value
	if len(args) > 2 {
		msg = args[2]
	}
	first, h, body := splitHead(readMessage(args[1].Int(), msg))
	method, url, _ := strings.Cut(first, " ")
	r := &bridgeRequest{id: args[0].Int(), method: method, url: url, header: h}
	if len(body) > 0 {
		r.body = body
	}
	spawn(func() { s.serve(r) })
	return nil
}

func (s *server) serve(r *bridgeRequest) {
	rec := &recorder{header: http.Header{}}
	req, err := r.toHTTP()
	if err != nil {
		rec.WriteHeader(http.StatusBadRequest)
		rec.Write([]byte(`{"error":{"code":"bad_request","message":"malformed request"}}`))
	} else {
		s.h.ServeHTTP(rec, req)
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	headers, body := formatHeaders(rec.header), rec.body.Bytes()
	s.reply.Invoke(r.id, rec.status, strPtr(headers), len(headers), ptr(body), len(body))
	// JavaScript has copied both by now; they must live until then.
	runtime.KeepAlive(headers)
	runtime.KeepAlive(body)
}

func (r *bridgeRequest) toHTTP() (*http.Request, error) {
	u, err := url.Parse(r.url)
	if err != nil {
		return nil, err
	}
	h := r.header
	req := &http.Request{
		Method:     r.method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       u.Host,
		RequestURI: u.RequestURI(),
		RemoteAddr: h.Get("Cf-Connecting-Ip"),
		Body:       http.NoBody,
	}
	if r.body != nil {
		req.Body = readCloser{bytes.NewReader(r.body)}
		req.ContentLength = int64(len(r.body))
	}
	return req, nil
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// recorder is the http.ResponseWriter: the response is small and sent whole.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}

// parseHeaders reads the "name: value\n" lines instance.mjs sends.
func parseHeaders(s string) http.Header {
	h := make(http.Header, strings.Count(s, "\n")+1)
	for len(s) > 0 {
		var line string
		line, s, _ = strings.Cut(s, "\n")
		name, value, ok := strings.Cut(line, ": ")
		if ok && name != "" {
			h.Add(name, value)
		}
	}
	return h
}

// formatHeaders writes headers as "name: value\n" lines; values lose any
// CR/LF, which HTTP does not allow in them anyway.
func formatHeaders(h http.Header) string {
	var b strings.Builder
	for name, values := range h {
		for _, v := range values {
			b.WriteString(name)
			b.WriteString(": ")
			if strings.ContainsAny(v, "\r\n") {
				v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
			}
			b.WriteString(v)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func statusText(code int) string {
	return strconv.Itoa(code) + " " + http.StatusText(code)
}
