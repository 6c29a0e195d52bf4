package orders

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
	orders map[string]*memOrder
	events map[string]bool
	holds  map[string]*memHold
	// writes counts the calls that changed something (WriteCount).
	writes int
}

type memOrder struct {
	Order
	claim     string
	claimedAt int64
}

type memHold struct {
	lines    []StockLine
	state    string // holdHeld, holdCommitted, holdReleased
	expires  int64
	objectID string
	version  int64
}

// Hold states, as the SQL store keeps them too.
const (
	holdHeld      = "held"
	holdCommitted = "committed"
	holdReleased  = "released"
)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{orders: map[string]*memOrder{}, events: map[string]bool{}, holds: map[string]*memHold{}}
}

func (m *MemStore) copyOut(o *memOrder) *Order {
	c := o.Order
	c.Lines = append([]Line{}, o.Lines...)
	return &c
}

// findLocked looks an order up as Get documents.
func (m *MemStore) findLocked(key string) *memOrder {
	if o := m.orders[key]; o != nil {
		return o
	}
	var byRef *memOrder
	for _, o := range m.orders {
		if (o.SessionID != "" && o.SessionID == key) || (o.PaymentIntentID != "" && o.PaymentIntentID == key) {
			return o
		}
		if o.Ref != "" && o.Ref == key && (byRef == nil || o.Created > byRef.Created || (o.Created == byRef.Created && o.ID > byRef.ID)) {
			byRef = o
		}
	}
	return byRef
}

func (m *MemStore) Get(ctx context.Context, key string) (*Order, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o := m.findLocked(key); o != nil {
		return m.copyOut(o), nil
	}
	return nil, nil
}

func (m *MemStore) Create(ctx context.Context, in *Order) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.orders[in.ID] != nil {
		return false, nil
	}
	for _, o := range m.orders {
		if (in.SessionID != "" && o.SessionID == in.SessionID) || (in.PaymentIntentID != "" && o.PaymentIntentID == in.PaymentIntentID) {
			return false, nil
		}
	}
	o := &memOrder{Order: *in}
	o.Lines = append([]Line{}, in.Lines...)
	o.Version = 1
	o.Fulfillment = Fulfillment{Status: FulfillmentNone}
	m.orders[in.ID] = o
	m.writes++
	return true, nil
}

func (m *MemStore) Update(ctx context.Context, in *Order) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.orders[in.ID]
	if o == nil || o.Version != in.Version {
		return false, nil
	}
	for _, other := range m.orders {
		if other != o && ((in.SessionID != "" && other.SessionID == in.SessionID) || (in.PaymentIntentID != "" && other.PaymentIntentID == in.PaymentIntentID)) {
			return false, nil
		}
	}
	f, created := o.Fulfillment, o.Created
	o.Order = *in
	o.Lines = append([]Line{}, in.Lines...)
	o.Fulfillment, o.Created = f, created
	o.Version++
	m.writes++
	return true, nil
}

func (m *MemStore) List(ctx context.Context, q Query) ([]Order, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []*memOrder
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
	out := make([]Order, len(all))
	for i, o := range all {
		out[i] = *m.copyOut(o)
	}
	return out, more, nil
}

func (m *MemStore) ClaimFulfillment(ctx context.Context, id, claim string, now, staleBefore time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.orders[id]
	if o == nil || !o.Fulfillable() {
		return false, nil
	}
	f := &o.Fulfillment
	if f.Status == FulfillmentNone || (f.Status == FulfillmentClaimed && o.claimedAt < staleBefore.Unix()) {
		m.writes++
		f.Status, o.claim, o.claimedAt = FulfillmentClaimed, claim, now.Unix()
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
	if o == nil || o.claim != claim || o.Fulfillment.Status != FulfillmentClaimed {
		return false, nil
	}
	m.writes++
	o.Fulfillment.Status, o.claim, o.Fulfillment.At = FulfillmentDone, "", now.Unix()
	o.Updated = now.Unix()
	return true, nil
}

func (m *MemStore) ReleaseFulfillment(ctx context.Context, id, claim string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o := m.orders[id]; o != nil && o.claim == claim && o.Fulfillment.Status == FulfillmentClaimed {
		m.writes++
		o.Fulfillment.Status, o.claim = FulfillmentNone, ""
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

// activeLocked reports whether h counts against the stock at now.
func (h *memHold) active(now int64) bool {
	return h.state == holdCommitted || (h.state == holdHeld && h.expires > now)
}

func (m *MemStore) heldLocked(product string, now int64, except string) int64 {
	var n int64
	for key, h := range m.holds {
		if key == except || !h.active(now) {
			continue
		}
		for _, l := range h.lines {
			if l.Product == product {
				n += l.Quantity
			}
		}
	}
	return n
}

// fitsLocked reports whether lines fit the stock beside every other active hold.
func (m *MemStore) fitsLocked(lines []StockLine, now int64, except string) bool {
	for _, l := range lines {
		if m.heldLocked(l.Product, now, except)+l.Quantity > l.Stock {
			return false
		}
	}
	return true
}

func (m *MemStore) Reserve(ctx context.Context, hold string, lines []StockLine, expires, now time.Time) (Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := m.holds[hold]; h != nil {
		switch {
		case h.state == holdCommitted:
			return AlreadyCommitted, nil
		case h.active(now.Unix()):
			return Reserved, nil
		}
	}
	if !m.fitsLocked(lines, now.Unix(), hold) {
		return OutOfStock, nil
	}
	m.writes++
	m.holds[hold] = &memHold{lines: append([]StockLine{}, lines...), state: holdHeld, expires: expires.Unix()}
	return Reserved, nil
}

func (m *MemStore) SyncHold(ctx context.Context, hold, objectID string, version int64, commit bool, lines []StockLine, now time.Time) (Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.holds[hold]
	if h != nil && ((h.objectID != "" && h.objectID != objectID) || h.version >= version) {
		return Skipped, nil
	}
	if !commit {
		if h != nil {
			m.writes++
			h.state, h.objectID, h.version = holdReleased, objectID, version
		}
		return Reserved, nil
	}
	if h != nil && h.state != holdReleased && h.active(now.Unix()) {
		m.writes++
		h.state, h.objectID, h.version = holdCommitted, objectID, version
		return Reserved, nil
	}
	// Released or lapsed (or never made): take the stock again if it is there.
	if !m.fitsLocked(lines, now.Unix(), hold) {
		return Oversold, nil
	}
	m.writes++
	m.holds[hold] = &memHold{lines: append([]StockLine{}, lines...), state: holdCommitted, objectID: objectID, version: version}
	return Reserved, nil
}

func (m *MemStore) ReleaseHold(ctx context.Context, hold string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := m.holds[hold]; h != nil && h.state == holdHeld && h.objectID == "" {
		m.writes++
		h.state = holdReleased
	}
	return nil
}

func (m *MemStore) Held(ctx context.Context, product string, now time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.heldLocked(product, now.Unix(), ""), nil
}

// WriteCount is the number of calls that changed something, so that tests
// can check that a refused request wrote nothing.
func (m *MemStore) WriteCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}
