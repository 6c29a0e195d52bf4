//go:build js && wasm

package main

import (
	"context"
	"sync"
	"time"
)

// pendingCalls is the Go side of the bridge's asynchronous calls (fetch, d1,
// rateLimit; see instance.mjs): each call gets the next id, JavaScript answers
// it through a done callback registered once, and the answer goes to the
// goroutine waiting for that id. An answer for an id nobody waits on any more
// (its context ended first) is dropped.
type pendingCalls[T any] struct {
	mu      sync.Mutex
	nextID  int
	waiting map[int]chan T
}

// begin numbers a new call; pass the id to JavaScript, then wait.
func (p *pendingCalls[T]) begin() (int, chan T) {
	ch := make(chan T, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waiting == nil {
		p.waiting = map[int]chan T{}
	}
	p.nextID++
	p.waiting[p.nextID] = ch
	return p.nextID, ch
}

// wait returns the answer to call id, or ctx's error if it ends first.
func (p *pendingCalls[T]) wait(ctx context.Context, id int, ch chan T) (T, error) {
	select {
	case res := <-ch:
		return res, nil
	case <-ctx.Done():
		p.mu.Lock()
		delete(p.waiting, id)
		p.mu.Unlock()
		var zero T
		return zero, ctx.Err()
	}
}

// answer hands JavaScript's answer to call id to its waiter, if any.
func (p *pendingCalls[T]) answer(id int, res T) {
	p.mu.Lock()
	ch, ok := p.waiting[id]
	delete(p.waiting, id)
	p.mu.Unlock()
	if ok {
		ch <- res
	}
}

// millisLeft is the timeoutMs a bridge call passes for ctx's deadline: the
// whole milliseconds left less lead, at least 1, or 0 (none) without a
// deadline. JavaScript keeps the deadline (instance.mjs), so Go arms no
// timer for it (worker/internal/deadline).
func millisLeft(ctx context.Context, lead time.Duration) int {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	return max(1, int((time.Until(dl)-lead)/time.Millisecond))
}
