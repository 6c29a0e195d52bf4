//go:build js && wasm

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"syscall/js"
	"time"
)

// fetchTransport is an http.RoundTripper over the Workers fetch API, through
// the bridge of instance.mjs: fetch(id, method, url, headers, body, timeoutMs)
// starts a fetch and the bridge answers with fetchDone(id, status, headers,
// body, error, timedOut), one callback registered for the instance's lifetime. Request and response bodies cross
// whole (Stripe's are small). GET and HEAD never carry a body: workerd refuses
// one, and stripe-go sets an empty body on every request.
type fetchTransport struct {
	start js.Value // loader's fetch function
	calls pendingCalls[fetchResult]
}

type fetchResult struct {
	status   int
	headers  string
	body     []byte
	err      string
	timedOut bool // aborted at the deadline
}

// fetchDeadlineLead is how long before a context's deadline the fetch is
// aborted (see RoundTrip).
const fetchDeadlineLead = 50 * time.Millisecond

func newFetchTransport(bridge js.Value) *fetchTransport {
	t := &fetchTransport{start: bridge.Get("fetch")}
	bridge.Set("fetchDone", js.FuncOf(t.done))
	return t
}

func (t *fetchTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body := jsNull
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			body = bytesToJS(b)
		}
	}
	id, ch := t.calls.begin()

	// A deadline is kept by the fetch itself: instance.mjs aborts it a little
	// before the context expires, so that the goroutine wakes in this
	// request's own event. A Go timer wakes it in whichever request's event
	// comes, whose I/O workerd does not let this request use; the context
	// stays the fallback.
	timeoutMS := 0
	if dl, ok := req.Context().Deadline(); ok {
		left := time.Until(dl) - fetchDeadlineLead
		if left < time.Millisecond {
			left = time.Millisecond
		}
		timeoutMS = int(left / time.Millisecond)
	}
	t.start.Invoke(id, req.Method, req.URL.String(), formatHeaders(req.Header), body, timeoutMS)

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
		Header:        parseHeaders(res.headers),
		Body:          readCloser{bytes.NewReader(res.body)},
		ContentLength: int64(len(res.body)),
		Request:       req,
	}, nil
}

// done receives fetchDone(id, status, headers, body, error, timedOut) from
// instance.mjs; timedOut may be left out.
func (t *fetchTransport) done(_ js.Value, args []js.Value) any {
	t.calls.answer(args[0].Int(), fetchResult{status: args[1].Int(), headers: args[2].String(), body: bytesFromJS(args[3]),
		err: args[4].String(), timedOut: len(args) > 5 && args[5].Truthy()})
	return nil
}
