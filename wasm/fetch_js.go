//go:build js && wasm

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"syscall/js"
	"time"
)

// fetchTransport is an http.RoundTripper over the Workers fetch API, through
// the bridge of instance.mjs: fetch(id, headPtr, headLen, bodyPtr, bodyLen,
// timeoutMs) starts a fetch ("METHOD URL\n" and header lines, then the body,
// read from linear memory) and the bridge answers with fetchDone(id, status,
// length, timedOut, message?), one callback registered for the instance's
// lifetime, the answer packed as in message_js.go. Request and response
// bodies cross whole (Stripe's are small). GET and HEAD never carry a body:
// workerd refuses one, and stripe-go sets an empty body on every request.
type fetchTransport struct {
	start js.Value // loader's fetch function
	calls pendingCalls[fetchResult]
}

type fetchResult struct {
	status   int
	header   http.Header
	body     []byte
	err      string
	timedOut bool // aborted at the deadline
}

// fetchDeadlineLead is how long before a context's deadline the fetch is
// aborted (see RoundTrip).
const fetchDeadlineLead = 50 * time.Millisecond

// KeepsDeadlines marks fetchTransport as a deadline.Keeper: the
// fetch is aborted at the context's deadline (RoundTrip), so the Stripe
// client arms no Go timer for it.
func (*fetchTransport) KeepsDeadlines() {}

func newFetchTransport(bridge js.Value) *fetchTransport {
	t := &fetchTransport{start: bridge.Get("fetch")}
	bridge.Set("fetchDone", js.FuncOf(t.done))
	return t
}

func (t *fetchTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		// Sized from ContentLength (the Stripe client's bodies are strings
		// of known length) rather than grown from 512 bytes by io.ReadAll;
		// http.Request's ContentLength is what is sent.
		var b []byte
		var err error
		if n := req.ContentLength; n > 0 && n <= scratchSize {
			b = make([]byte, n)
			_, err = io.ReadFull(req.Body, b)
		} else {
			b, err = io.ReadAll(req.Body)
		}
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			body = b
		}
	}
	id, ch := t.calls.begin()

	// A deadline is kept by the fetch itself: instance.mjs aborts it a little
	// before the context expires, so that the goroutine wakes in this
	// request's own event. A Go timer wakes it in whichever request's event
	// comes, whose I/O workerd does not let this request use; the context
	// stays the fallback.
	timeoutMS := millisLeft(req.Context(), fetchDeadlineLead)
	head := req.Method + " " + req.URL.String() + "\n" + formatHeaders(req.Header)
	t.start.Invoke(id, strPtr(head), len(head), ptr(body), len(body), timeoutMS)
	// JavaScript has read both by now.
	runtime.KeepAlive(head)
	runtime.KeepAlive(body)

	res, err := t.calls.wait(req.Context(), id, ch)
	if err != nil {
		return nil, err
	}
	if res.timedOut {
		return nil, context.DeadlineExceeded
	}
	if res.err != "" {
		return nil, errors.New("fetch " + req.URL.Host + ": " + res.err)
	}
	return &http.Response{
		Status:        statusText(res.status),
		StatusCode:    res.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        res.header,
		Body:          readCloser{bytes.NewReader(res.body)},
		ContentLength: int64(len(res.body)),
		Request:       req,
	}, nil
}

// done receives fetchDone(id, status, length, timedOut, message?) from
// instance.mjs: status 0 means the fetch failed, and the message is the
// error's text; otherwise it is an empty line, the answer's header lines, a
// blank line and its body.
func (t *fetchTransport) done(_ js.Value, args []js.Value) any {
	var arg js.Value
	if len(args) > 4 {
		arg = args[4]
	}
	msg := readMessage(args[2].Int(), arg)
	res := fetchResult{status: args[1].Int(), timedOut: args[3].Truthy()}
	if res.status == 0 {
		res.err = string(msg)
		if res.err == "" {
			res.err = "fetch failed"
		}
	} else {
		_, res.header, res.body = splitHead(msg) // an empty first line
	}
	t.calls.answer(args[0].Int(), res)
	return nil
}
