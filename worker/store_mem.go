package worker

import (
	"context"
	"sort"
	"sync"
	"time"
)

// MemStore is a Store in memory, for tests and host mode (`go run ./wasm`):
// everything is lost when the process ends. One mutex makes each method
// atomic, as each statement is in D1.
type MemStore struct {
	mu     sync.Mutex
	orders map[string]*OrderRecord
	events map[string]bool
	// writes counts the calls that changed something (WriteCount).
	writes int
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{orders: map[string]*OrderRecord{}, events: map[string]bool{}}
}

func copyOrder(o *OrderRecord, lines bool) *OrderRecord {
	c := *o
	c.Lines = nil
	if lines {
		c.Lines = append([]RecordLine{}, o.Lines...)
	}
	return &c
}

// findLocked looks an order up by id, session id or PaymentIntent id.
func (m *MemStore) findLocked(key string) *OrderRecord {
	if o := m.orders[key]; o != nil {
		return o
	}
	for _, o := range m.orders {
		if (o.SessionID != "" && o.SessionID == key) || (o.PaymentIntentID != "" && o.PaymentIntentID == key) {
			return o
		}
	}
	return nil
}

func (m *MemStore) SaveOrder(ctx context.Context, in *OrderRecord) (*OrderRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	cur := m.orders[in.ID]
	if cur == nil {
		cur = copyOrder(in, true)
		cur.Fulfillment = Fulfillment{Status: FulfillmentNone}
		m.orders[in.ID] = cur
	} else {
		mergeOrder(cur, in)
		// Lines at positions the order has none for yet are added.
		if len(cur.Lines) < len(in.Lines) {
			cur.Lines = append(cur.Lines, in.Lines[len(cur.Lines):]...)
		}
	}
	return copyOrder(cur, false), nil
}

func (m *MemStore) Order(ctx context.Context, key string) (*OrderRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o := m.findLocked(key); o != nil {
		return copyOrder(o, true), nil
	}
	return nil, nil
}

func (m *MemStore) ListOrders(ctx context.Context, q OrderQuery) ([]OrderRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []*OrderRecord
	for _, o := range m.orders {
		if q.State != "" && o.State != q.State {
			continue
		}
		if q.After != nil && !(o.Created < q.After.Created || (o.Created == q.After.Created && o.ID < q.After.ID)) {
			continue
		}
		all = append(all, o)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Created != all[j].Created {
			return all[i].Created > all[j].Created
		}
		return all[i].ID > all[j].ID
	})
	more := len(all) > q.Limit
	if more {
		all = all[:q.Limit]
	}
	out := make([]OrderRecord, len(all))
	for i, o := range all {
		out[i] = *copyOrder(o, true)
	}
	return out, more, nil
}

func (m *MemStore) ClaimFulfillment(ctx context.Context, id, claim string, now, staleBefore time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.orders[id]
	if o == nil || !o.State.fulfillable() {
		return false, nil
	}
	f := &o.Fulfillment
	if f.Status == FulfillmentNone || (f.Status == FulfillmentClaimed && f.claimedAt < staleBefore.Unix()) {
		m.writes++
		f.Status, f.claim, f.claimedAt = FulfillmentClaimed, claim, now.Unix()
		f.Attempts++
		o.Updated = now.Unix()
		return true, nil
	}
	return false, nil
}

func (m *MemStore) FinishFulfillment(ctx context.Context, id, claim string, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.orders[id]
	if o == nil || o.Fulfillment.claim != claim || o.Fulfillment.Status != FulfillmentClaimed {
		return false, nil
	}
	m.writes++
	o.Fulfillment.Status, o.Fulfillment.claim, o.Fulfillment.At = FulfillmentDone, "", now.Unix()
	o.Updated = now.Unix()
	return true, nil
}

func (m *MemStore) ReleaseFulfillment(ctx context.Context, id, claim string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o := m.orders[id]; o != nil && o.Fulfillment.claim == claim && o.Fulfillment.Status == FulfillmentClaimed {
		m.writes++
		o.Fulfillment.Status, o.Fulfillment.claim = FulfillmentNone, ""
	}
	return nil
}

func (m *MemStore) EventProcessed(ctx context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.events[id], nil
}

func (m *MemStore) RecordEvent(ctx context.Context, id, typ, orderID string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.events[id] {
		m.writes++
		m.events[id] = true
	}
	return nil
}

func (m *MemStore) SoldQuantity(ctx context.Context, productID string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for _, o := range m.orders {
		counts := false
		for _, s := range soldStates {
			counts = counts || o.State == s
		}
		if !counts {
			continue
		}
		for _, l := range o.Lines {
			if l.Product == productID {
				n += l.Quantity
			}
		}
	}
	return n, nil
}

// WriteCount is the number of calls that changed something, so that tests
// can check that a refused webhook wrote nothing.
func (m *MemStore) WriteCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}
