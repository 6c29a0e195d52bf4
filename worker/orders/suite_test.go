package orders

// One suite, two stores: every test here runs against MemStore and against
// SQLStore on a pure-Go SQLite with worker/migrations applied as wrangler
// applies them, so the statements that run on D1 are the ones tested.

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// migrations returns worker/migrations' files in the order wrangler applies them.
func migrations(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("../migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	sort.Strings(files)
	return files
}

func applyMigration(t testing.TB, db *sql.DB, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(string(b)); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// openSQLite returns a fresh database file with the migrations up to and
// including upTo applied ("" for all). One connection, as D1 runs one
// statement at a time.
func openSQLite(t testing.TB, upTo string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "orders.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	for _, f := range migrations(t) {
		applyMigration(t, db, f)
		if upTo != "" && strings.HasPrefix(filepath.Base(f), upTo) {
			break
		}
	}
	return db
}

// eachStore runs f against both stores.
func eachStore(t *testing.T, f func(t *testing.T, st Store)) {
	t.Run("memory", func(t *testing.T) { f(t, NewMemStore()) })
	t.Run("sqlite", func(t *testing.T) { f(t, NewSQLStore(openSQLite(t, ""))) })
}

var ctx = context.Background()

func paidOrder(id string) *Order {
	o := &Order{ID: id, Ref: "ord_" + strings.TrimPrefix(id, "cs_test_"), Flow: FlowCheckout, Payment: Paid, SessionID: id,
		PaymentIntentID: "pi_" + strings.TrimPrefix(id, "cs_test_"), Currency: "usd", AmountTotal: 2500, AmountReceived: 2500,
		Lines:   []Line{{Product: "tshirt", Description: "T-shirt", Quantity: 1, UnitAmount: 2500, AmountTotal: 2500}},
		Created: 1000, Updated: 1000}
	o.Check()
	o.Derive()
	return o
}

func mustGet(t *testing.T, st Store, key string) *Order {
	t.Helper()
	o, err := st.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if o == nil {
		t.Fatalf("no order for %s", key)
	}
	return o
}

func TestStoreCreateAndGet(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		o := paidOrder("cs_test_a")
		if ok, err := st.Create(ctx, o); err != nil || !ok {
			t.Fatalf("create: %v %v", ok, err)
		}
		for _, key := range []string{"cs_test_a", "pi_a", "ord_a"} {
			got := mustGet(t, st, key)
			if got.ID != "cs_test_a" || got.State != Paid || got.Version != 1 || got.Fulfillment.Status != FulfillmentNone {
				t.Errorf("get %s: %+v", key, got)
			}
			if len(got.Lines) != 1 || got.Lines[0] != o.Lines[0] {
				t.Errorf("get %s lines: got %+v, want %+v", key, got.Lines, o.Lines)
			}
		}
		if got, err := st.Get(ctx, "cs_test_none"); err != nil || got != nil {
			t.Errorf("unknown key: got %+v, %v", got, err)
		}
		// The same id again, or another order claiming its PaymentIntent or
		// session, is refused and changes nothing.
		dup := paidOrder("cs_test_a")
		dup.AmountReceived = 1
		if ok, err := st.Create(ctx, dup); err != nil || ok {
			t.Errorf("duplicate id: created=%v err=%v", ok, err)
		}
		thief := paidOrder("cs_test_b")
		thief.PaymentIntentID = "pi_a"
		if ok, err := st.Create(ctx, thief); err != nil || ok {
			t.Errorf("another order's PaymentIntent: created=%v err=%v", ok, err)
		}
		thief2 := &Order{ID: "pi_x", Flow: FlowConfirmIntent, State: Paid, Payment: Paid, SessionID: "cs_test_a", Created: 1}
		if ok, err := st.Create(ctx, thief2); err != nil || ok {
			t.Errorf("another order's session: created=%v err=%v", ok, err)
		}
		if got := mustGet(t, st, "cs_test_a"); got.AmountReceived != 2500 {
			t.Errorf("refused creates changed the order: %+v", got)
		}
	})
}

func TestStoreGetByRefPrefersNewest(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		a, b := paidOrder("cs_test_a"), paidOrder("cs_test_b")
		a.Ref, b.Ref = "ord_same", "ord_same"
		b.Created = 2000
		for _, o := range []*Order{a, b} {
			if ok, err := st.Create(ctx, o); err != nil || !ok {
				t.Fatal(ok, err)
			}
		}
		if got := mustGet(t, st, "ord_same"); got.ID != "cs_test_b" {
			t.Errorf("by ref: got %s, want the newest cs_test_b", got.ID)
		}
		if got := mustGet(t, st, "cs_test_a"); got.ID != "cs_test_a" {
			t.Errorf("by id: got %s", got.ID)
		}
	})
}

func TestStoreUpdateIsCompareAndSwap(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		o := paidOrder("cs_test_a")
		o.Payment, o.AmountReceived = AwaitingPayment, 0
		o.Derive()
		st.Create(ctx, o)
		cur := mustGet(t, st, "cs_test_a")
		next := *cur
		next.Merge(paidOrder("cs_test_a"))
		next.Updated = 2000
		if ok, err := st.Update(ctx, &next); err != nil || !ok {
			t.Fatalf("update: %v %v", ok, err)
		}
		got := mustGet(t, st, "cs_test_a")
		if got.State != Paid || got.Version != 2 || got.Updated != 2000 || got.Created != 1000 {
			t.Errorf("after update: %+v", got)
		}
		// A writer still holding version 1 loses.
		stale := *cur
		stale.Payment, stale.State = Failed, Failed
		if ok, err := st.Update(ctx, &stale); err != nil || ok {
			t.Errorf("stale update: ok=%v err=%v", ok, err)
		}
		if got := mustGet(t, st, "cs_test_a"); got.State != Paid {
			t.Errorf("stale update wrote: %s", got.State)
		}
	})
}

func TestStoreConcurrentUpdatesLoseNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		o := paidOrder("cs_test_a")
		st.Create(ctx, o)
		// Ten writers each add a partial refund of 10 with read-merge-CAS
		// retries, as the worker does: every one must count.
		var wg sync.WaitGroup
		for i := 1; i <= 10; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				for {
					cur, err := st.Get(ctx, "cs_test_a")
					if err != nil {
						t.Error(err)
						return
					}
					cur.AmountRefunded += 10
					cur.Derive()
					if ok, err := st.Update(ctx, cur); err != nil {
						t.Error(err)
						return
					} else if ok {
						return
					}
				}
			}(i)
		}
		wg.Wait()
		got := mustGet(t, st, "cs_test_a")
		if got.AmountRefunded != 100 || got.Version != 11 || got.State != PartiallyRefunded {
			t.Errorf("after 10 concurrent refunds: refunded=%d version=%d state=%s", got.AmountRefunded, got.Version, got.State)
		}
	})
}

func TestStoreListPagesNewestFirst(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		for i := 0; i < 7; i++ {
			o := paidOrder(fmt.Sprintf("cs_test_%d", i))
			o.Created = 1000 + int64(i/2)
			if i%3 == 1 {
				o.Payment = Expired
				o.AmountReceived = 0
				o.Review = ""
				o.Derive()
			}
			st.Create(ctx, o)
		}
		var ids []string
		var after *Cursor
		for page := 0; page < 5; page++ {
			got, more, err := st.List(ctx, Query{Limit: 3, After: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range got {
				ids = append(ids, o.ID)
				if len(o.Lines) != 1 {
					t.Errorf("%s without its lines", o.ID)
				}
			}
			if !more {
				break
			}
			last := got[len(got)-1]
			after = &Cursor{Created: last.Created, ID: last.ID}
		}
		want := "cs_test_6 cs_test_5 cs_test_4 cs_test_3 cs_test_2 cs_test_1 cs_test_0"
		if got := strings.Join(ids, " "); got != want {
			t.Errorf("pages:\n got %s\nwant %s", got, want)
		}
		expired, _, err := st.List(ctx, Query{State: Expired, Limit: 10})
		if err != nil || len(expired) != 2 {
			t.Fatalf("state=expired: %d orders, %v", len(expired), err)
		}
	})
}

func TestStoreFulfillmentClaimedOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		now := time.Unix(5000, 0)
		st.Create(ctx, paidOrder("cs_test_a"))
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ok, err := st.ClaimFulfillment(ctx, "cs_test_a", fmt.Sprint("claim", i), now, now.Add(-time.Minute))
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					won++
					mu.Unlock()
				}
			}(i)
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d callers claimed the fulfillment, want 1", won)
		}
		// A stale claim is taken over; the old claimant can no longer finish.
		later := now.Add(3 * time.Minute)
		if ok, _ := st.ClaimFulfillment(ctx, "cs_test_a", "late", later, later.Add(-time.Minute)); !ok {
			t.Fatal("stale claim not taken over")
		}
		for i := 0; i < 20; i++ {
			if ok, _ := st.FinishFulfillment(ctx, "cs_test_a", fmt.Sprint("claim", i), later); ok {
				t.Errorf("claim%d finished after losing its claim", i)
			}
		}
		if ok, err := st.FinishFulfillment(ctx, "cs_test_a", "late", later); !ok || err != nil {
			t.Fatalf("finish: %v %v", ok, err)
		}
		got := mustGet(t, st, "cs_test_a")
		if got.Fulfillment.Status != FulfillmentDone || got.Fulfillment.Attempts != 2 || got.Fulfillment.At != later.Unix() {
			t.Errorf("fulfillment: %+v", got.Fulfillment)
		}
		if ok, _ := st.ClaimFulfillment(ctx, "cs_test_a", "again", later, later); ok {
			t.Error("a done fulfillment was claimed again")
		}
		// An update of the order keeps the fulfillment as it is.
		got.AmountRefunded = 100
		got.Derive()
		if ok, err := st.Update(ctx, got); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if again := mustGet(t, st, "cs_test_a"); again.Fulfillment.Status != FulfillmentDone {
			t.Errorf("update reset the fulfillment: %+v", again.Fulfillment)
		}
	})
}

func TestStoreOnlyPaidOrdersAreClaimed(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		now := time.Unix(5000, 0)
		review := paidOrder("cs_test_review")
		review.AmountReceived = 100 // less than the lines
		review.Review = ""
		review.Check()
		review.Derive()
		if review.State != NeedsReview {
			t.Fatalf("state %s, want needs_review", review.State)
		}
		waiting := paidOrder("cs_test_waiting")
		waiting.Payment, waiting.AmountReceived = AwaitingPayment, 0
		waiting.Derive()
		for _, o := range []*Order{review, waiting} {
			st.Create(ctx, o)
			if ok, err := st.ClaimFulfillment(ctx, o.ID, "c", now, now); ok || err != nil {
				t.Errorf("%s (%s) claimed: %v %v", o.ID, o.State, ok, err)
			}
		}
	})
}

func TestStoreEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		if seen, err := st.EventProcessed(ctx, "evt_1"); seen || err != nil {
			t.Fatal(seen, err)
		}
		for i := 0; i < 2; i++ {
			if err := st.RecordEvent(ctx, "evt_1", "checkout.session.completed", "cs_test_a", time.Unix(1, 0)); err != nil {
				t.Fatal(err)
			}
		}
		if seen, err := st.EventProcessed(ctx, "evt_1"); !seen || err != nil {
			t.Fatal(seen, err)
		}
	})
}

var (
	t0      = time.Unix(10_000, 0)
	expires = t0.Add(30 * time.Minute)
)

func poster(q, stock int64) []StockLine {
	return []StockLine{{Product: "poster", Quantity: q, Stock: stock}}
}

func held(t *testing.T, st Store, product string, now time.Time) int64 {
	t.Helper()
	n, err := st.Held(ctx, product, now)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func reserve(t *testing.T, st Store, hold string, lines []StockLine, now time.Time) Reservation {
	t.Helper()
	r, err := st.Reserve(ctx, hold, lines, now.Add(30*time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestStoreReserveWithinStock(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		if r := reserve(t, st, "ord_a", poster(2, 3), t0); r != Reserved {
			t.Fatalf("first 2 of 3: %v", r)
		}
		if r := reserve(t, st, "ord_b", poster(2, 3), t0); r != OutOfStock {
			t.Fatalf("2 more of 3: %v, want OutOfStock", r)
		}
		if r := reserve(t, st, "ord_c", poster(1, 3), t0); r != Reserved {
			t.Fatalf("the last one: %v", r)
		}
		if n := held(t, st, "poster", t0); n != 3 {
			t.Errorf("held %d, want 3", n)
		}
		// A retry of a request whose hold stands is not reserved twice.
		if r := reserve(t, st, "ord_a", poster(2, 3), t0); r != Reserved || held(t, st, "poster", t0) != 3 {
			t.Errorf("retry: %v, held %d", r, held(t, st, "poster", t0))
		}
		// All or nothing across products.
		two := []StockLine{{Product: "mug", Quantity: 1, Stock: 5}, {Product: "poster", Quantity: 1, Stock: 3}}
		if r := reserve(t, st, "ord_d", two, t0); r != OutOfStock || held(t, st, "mug", t0) != 0 {
			t.Errorf("mug+poster with no poster left: %v, mugs held %d", r, held(t, st, "mug", t0))
		}
		// Holds lapse at their expiry, and released ones count no more.
		if err := st.ReleaseHold(ctx, "ord_c"); err != nil {
			t.Fatal(err)
		}
		if n := held(t, st, "poster", t0); n != 2 {
			t.Errorf("after release: held %d, want 2", n)
		}
		if n := held(t, st, "poster", expires.Add(time.Second)); n != 0 {
			t.Errorf("after expiry: held %d, want 0", n)
		}
		if r := reserve(t, st, "ord_e", poster(3, 3), expires.Add(time.Second)); r != Reserved {
			t.Errorf("after expiry: %v", r)
		}
		// A released hold's request, retried, is reserved anew.
		if r := reserve(t, st, "ord_c", poster(1, 4), expires.Add(time.Second)); r != Reserved {
			t.Errorf("retry after release: %v", r)
		}
	})
}

func TestStoreReserveRace(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		// 50 shoppers race for the last 3 posters.
		var wg sync.WaitGroup
		results := make([]Reservation, 50)
		for i := range results {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r, err := st.Reserve(ctx, fmt.Sprintf("ord_%02d", i), poster(1, 3), expires, t0)
				if err != nil {
					t.Error(err)
				}
				results[i] = r
			}(i)
		}
		wg.Wait()
		got := 0
		for _, r := range results {
			if r == Reserved {
				got++
			}
		}
		if got != 3 || held(t, st, "poster", t0) != 3 {
			t.Errorf("%d shoppers got a poster (held %d), want exactly 3", got, held(t, st, "poster", t0))
		}
	})
}

func TestStoreSyncHold(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		reserve(t, st, "ord_a", poster(2, 3), t0)
		sync := func(hold, obj string, v int64, commit bool, now time.Time) Reservation {
			t.Helper()
			r, err := st.SyncHold(ctx, hold, obj, v, commit, poster(2, 3), now)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		if r := sync("ord_a", "cs_test_a", 1, true, t0); r != Reserved {
			t.Fatalf("commit: %v", r)
		}
		// Committed holds outlive the expiry.
		if n := held(t, st, "poster", expires.Add(time.Hour)); n != 2 {
			t.Errorf("committed: held %d, want 2", n)
		}
		// Another order's record never moves this hold, nor does an older one.
		if r := sync("ord_a", "cs_test_other", 5, false, t0); r != Reserved && r != Skipped {
			t.Fatalf("other object: %v", r)
		}
		if r := sync("ord_a", "cs_test_a", 1, false, t0); r != Reserved && r != Skipped {
			t.Fatalf("stale: %v", r)
		}
		if n := held(t, st, "poster", t0); n != 2 {
			t.Errorf("a foreign or stale release changed the hold: held %d", n)
		}
		// Reserve under a committed hold's key is refused.
		if r := reserve(t, st, "ord_a", poster(2, 3), t0); r != AlreadyCommitted {
			t.Errorf("reserve on a committed hold: %v", r)
		}
		if r := sync("ord_a", "cs_test_a", 2, false, t0); r != Reserved {
			t.Fatalf("release: %v", r)
		}
		if n := held(t, st, "poster", t0); n != 0 {
			t.Errorf("released: held %d", n)
		}
		// Paid after all (a failed payment retried): taken again while stock lasts ...
		if r := sync("ord_a", "cs_test_a", 3, true, t0); r != Reserved || held(t, st, "poster", t0) != 2 {
			t.Fatalf("re-commit: %v, held %d", r, held(t, st, "poster", t0))
		}
		// ... and oversold when it does not.
		reserve(t, st, "ord_b", poster(1, 3), t0)
		sync("ord_a", "cs_test_a", 4, false, t0)
		reserve(t, st, "ord_c", poster(2, 3), t0)
		if r := sync("ord_a", "cs_test_a", 5, true, t0); r != Oversold {
			t.Errorf("re-commit without stock: %v, want Oversold", r)
		}
		if n := held(t, st, "poster", t0); n != 3 {
			t.Errorf("oversold commit changed the holds: held %d, want 3", n)
		}
		// A lapsed hold is committed only if its stock is still there.
		reserve(t, st, "ord_d", poster(1, 1), t0)
		late := expires.Add(time.Minute)
		reserve(t, st, "ord_e", []StockLine{{Product: "poster", Quantity: 1, Stock: 1}}, late)
		r, err := st.SyncHold(ctx, "ord_d", "cs_test_d", 1, true, poster(1, 1), late)
		if err != nil || r != Oversold {
			t.Errorf("lapsed hold whose stock was taken: %v %v", r, err)
		}
	})
}

// TestMigrationKeepsOrders applies 0001, records orders the way the kit did
// before 0002 (keyed by kit_order, lines in order_lines), applies 0002 and
// reads them back through the store.
func TestMigrationKeepsOrders(t *testing.T) {
	db := openSQLite(t, "0001")
	for _, q := range []string{
		`INSERT INTO orders (id, flow, state, session_id, payment_intent_id, email, currency, amount_total, amount_received, fulfillment, fulfillment_attempts, fulfilled_at, created_at, updated_at)
		 VALUES ('ord_aaaa', 'checkout', 'paid', 'cs_test_a', 'pi_a', 'j@example.com', 'usd', 5500, 5500, 'done', 1, 1200, 1000, 1100)`,
		`INSERT INTO order_lines VALUES ('ord_aaaa', 1, 'poster', 'Signed poster', 1, 3500, 3500), ('ord_aaaa', 0, 'tshirt', 'T-shirt', 1, 2000, 2000)`,
		`INSERT INTO orders (id, flow, state, payment_intent_id, currency, amount_total, created_at, updated_at)
		 VALUES ('ord_bbbb', 'confirm_intent', 'expired', 'pi_b', 'usd', 3500, 1001, 1001)`,
		`INSERT INTO order_lines VALUES ('ord_bbbb', 0, 'poster', 'Signed poster', 1, 3500, 3500)`,
		`INSERT INTO orders (id, flow, state, session_id, currency, created_at, updated_at) VALUES ('cs_test_c', 'checkout', 'authorized', 'cs_test_c', 'usd', 1002, 1002)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range migrations(t)[1:] {
		applyMigration(t, db, f)
	}
	st := NewSQLStore(db)
	a := mustGet(t, st, "ord_aaaa")
	if a.ID != "cs_test_a" || a.Ref != "ord_aaaa" || a.State != Paid || a.Payment != Paid || a.Fulfillment.Status != FulfillmentDone || a.Version != 1 {
		t.Errorf("migrated order: %+v", a)
	}
	if len(a.Lines) != 2 || a.Lines[0].Product != "tshirt" || a.Lines[1].Product != "poster" || a.Lines[1].AmountTotal != 3500 {
		t.Errorf("migrated lines, in position order: %+v", a.Lines)
	}
	if b := mustGet(t, st, "pi_b"); b.ID != "pi_b" || b.Ref != "ord_bbbb" || b.Flow != FlowConfirmIntent {
		t.Errorf("migrated confirm-intent order: %+v", b)
	}
	if c := mustGet(t, st, "cs_test_c"); c.Ref != "" || len(c.Lines) != 0 {
		t.Errorf("migrated order without lines: %+v", c)
	}
	// The paid order's poster stays sold; the expired one's does not count.
	if n := held(t, st, "poster", time.Unix(1<<40, 0)); n != 1 {
		t.Errorf("posters held after migration: %d, want 1", n)
	}
}

// A shipped order's details (address, rate, phone, custom fields, tax)
// are stored and read back whole by both stores, and a later snapshot that
// adds the recovery link changes the order without losing them.
func TestStoreKeepsDetails(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		o := paidOrder("cs_test_ship")
		o.Lines[0].AmountTotal, o.AmountTotal, o.AmountReceived = 2600, 3100, 3100 // 100 tax in the line
		o.Details = Details{
			Shipping: &Shipping{Name: "Ada L", Address: Address{Line1: "1 Main St", City: "Springfield", PostalCode: "12345", Country: "US"},
				Rate: "standard", RateName: "Standard", Amount: 500},
			Phone: "+15555550100", CustomFields: []CustomField{{Key: "size", Value: "M"}}, TaxIDs: []TaxID{{Type: "eu_vat", Value: "DE123456789"}},
			AmountShipping: 500, AmountTax: 100}
		o.Check()
		o.Derive()
		if o.State != Paid {
			t.Fatalf("lines 2600 + shipping 500 = received 3100: state %s (%s), want paid", o.State, o.Review)
		}
		if ok, err := st.Create(ctx, o); err != nil || !ok {
			t.Fatalf("create: %v %v", ok, err)
		}
		got := mustGet(t, st, o.ID)
		if got.Details.Shipping == nil || *got.Details.Shipping != *o.Details.Shipping || got.Details.Phone != o.Details.Phone ||
			len(got.Details.CustomFields) != 1 || got.Details.CustomFields[0] != o.Details.CustomFields[0] ||
			len(got.Details.TaxIDs) != 1 || got.Details.AmountShipping != 500 || got.Details.AmountTax != 100 {
			t.Fatalf("details: got %+v, want %+v", got.Details, o.Details)
		}
		later := *got
		later.Details = Details{RecoveryURL: "https://buy.stripe.com/r/x"}
		if !got.Merge(&later) {
			t.Fatal("a snapshot adding the recovery link changed nothing")
		}
		if ok, err := st.Update(ctx, got); err != nil || !ok {
			t.Fatalf("update: %v %v", ok, err)
		}
		again := mustGet(t, st, o.ID)
		if again.Details.RecoveryURL == "" || again.Details.Shipping == nil || again.Details.Phone == "" {
			t.Fatalf("after merge: %+v", again.Details)
		}
	})
}

// Shipping is part of what must have been paid: lines alone that match the
// amount received while shipping was charged on top means the shipping was
// not paid.
func TestCheckCountsShipping(t *testing.T) {
	o := paidOrder("cs_test_short")
	o.Details.AmountShipping = 500 // lines 2500, received 2500
	o.Check()
	o.Derive()
	if o.State != NeedsReview {
		t.Fatalf("received 2500 for lines 2500 + shipping 500: state %s, want needs_review", o.State)
	}
}

// The site's reference (client_reference_id) and a discounted order's
// details are kept by both stores, through a create and an update. Lines
// are what Stripe charged for them (after the discount), so the order adds up.
func TestStoreKeepsReference(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		o := paidOrder("cs_test_r")
		o.Lines[0].AmountTotal, o.AmountTotal, o.AmountReceived = 2250, 2250, 2250
		o.Reference, o.Details.AmountDiscount = "blog-order_42", 250
		o.Check()
		o.Derive()
		if o.State != Paid {
			t.Fatalf("discounted order: %s (%s)", o.State, o.Review)
		}
		if ok, err := st.Create(ctx, o); err != nil || !ok {
			t.Fatalf("create: %v %v", ok, err)
		}
		got := mustGet(t, st, "cs_test_r")
		if got.Reference != "blog-order_42" || got.Details.AmountDiscount != 250 {
			t.Fatalf("after create: reference %q, discount %d", got.Reference, got.Details.AmountDiscount)
		}
		got.Reference = "other"
		got.Updated = 2000
		if ok, err := st.Update(ctx, got); err != nil || !ok {
			t.Fatalf("update: %v %v", ok, err)
		}
		if again := mustGet(t, st, "cs_test_r"); again.Reference != "other" {
			t.Fatalf("after update: reference %q", again.Reference)
		}
	})
}
