package orders

// SQLStore: the Store on a database/sql database with the schema of
// worker/migrations (SQLite, as Cloudflare D1 speaks it). On Workers the
// database is D1 through the wasm package's driver; this file knows only
// database/sql, and the host tests run it on a pure-Go SQLite with the real
// migrations.
//
// D1 runs each statement atomically but has no interactive transactions, so
// every step that must be atomic is one statement: an order's write is an
// UPDATE guarded by its version (compare-and-swap), a fulfillment claim an
// UPDATE whose WHERE clause is the claim condition (rows affected tells who
// won), a stock reservation one INSERT ... SELECT whose WHERE clause is the
// stock check. Lists travel as one JSON parameter read with json_each.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// SQLStore is a Store on database/sql.
type SQLStore struct {
	db *sql.DB
}

// NewSQLStore returns a Store on db, whose schema is worker/migrations'.
func NewSQLStore(db *sql.DB) *SQLStore { return &SQLStore{db: db} }

// columns are read by scanOrders, in this order.
const columns = `id, ref, flow, state, payment_state, review, COALESCE(session_id, ''), COALESCE(payment_intent_id, ''),
	email, currency, amount_total, amount_received, amount_capturable, amount_refunded, dispute, decline_code, livemode,
	lines, details, fulfillment, fulfillment_attempts, COALESCE(fulfilled_at, 0), created_at, updated_at, version,
	reference`

// fulfillable is Order.Fulfillable as SQL.
const fulfillable = `state IN ('` + string(Paid) + `', '` + string(Captured) + `')`

// activeHold is memHold.active as SQL over stock_holds aliased h, with the
// time as parameter ?4 (activeHoldAt2: ?2).
const (
	activeHold    = `(h.state = 'committed' OR (h.state = 'held' AND h.expires_at > ?4))`
	activeHoldAt2 = `(h.state = 'committed' OR (h.state = 'held' AND h.expires_at > ?2))`
)

const (
	createSQL = `INSERT INTO orders (id, ref, flow, state, payment_state, review, session_id, payment_intent_id,
	email, currency, amount_total, amount_received, amount_capturable, amount_refunded, dispute, decline_code, livemode,
	lines, created_at, updated_at, version, details, reference)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULLIF(?7, ''), NULLIF(?8, ''), ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19, 1, ?20, ?21)
ON CONFLICT DO NOTHING`

	// updateSQL writes every field but the fulfillment's, if the version is
	// still the one read, and if the session or PaymentIntent is no other
	// order's.
	updateSQL = `UPDATE orders SET ref = ?2, flow = ?3, state = ?4, payment_state = ?5, review = ?6,
	session_id = NULLIF(?7, ''), payment_intent_id = NULLIF(?8, ''), email = ?9, currency = ?10,
	amount_total = ?11, amount_received = ?12, amount_capturable = ?13, amount_refunded = ?14, dispute = ?15,
	decline_code = ?16, livemode = ?17, lines = ?18, updated_at = ?19, details = ?21, reference = ?22, version = version + 1
WHERE id = ?1 AND version = ?20
	AND NOT EXISTS (SELECT 1 FROM orders AS x WHERE x.id <> ?1
		AND ((?7 <> '' AND x.session_id = ?7) OR (?8 <> '' AND x.payment_intent_id = ?8)))`

	claimSQL = `UPDATE orders SET fulfillment = 'claimed', fulfillment_claim = ?2, fulfillment_claimed_at = ?3,
	fulfillment_attempts = fulfillment_attempts + 1, updated_at = ?3
WHERE id = ?1 AND ` + fulfillable + `
	AND (fulfillment = 'none' OR (fulfillment = 'claimed' AND fulfillment_claimed_at < ?4))`

	finishSQL = `UPDATE orders SET fulfillment = 'done', fulfillment_claim = NULL, fulfilled_at = ?3, updated_at = ?3
WHERE id = ?1 AND fulfillment = 'claimed' AND fulfillment_claim = ?2`

	releaseSQL = `UPDATE orders SET fulfillment = 'none', fulfillment_claim = NULL
WHERE id = ?1 AND fulfillment = 'claimed' AND fulfillment_claim = ?2`

	// insertHoldSQL takes every line of ?2 (a JSON array of StockLine) under
	// hold ?1 with state ?3, if the hold has no rows left (take drops its
	// lapsed ones first) and each product's other active holds plus the
	// line stay within its stock; otherwise it inserts nothing. Its own
	// hold's rows are left out of the sums, so the rows it inserts while it
	// runs never count against its later lines. The WHERE true keeps SQLite
	// from reading ON CONFLICT as a join constraint.
	insertHoldSQL = `INSERT INTO stock_holds (hold, product_id, quantity, state, expires_at, object_id, version, created_at)
SELECT ?1, json_extract(j.value, '$.p'), json_extract(j.value, '$.q'), ?3, ?5, NULLIF(?6, ''), ?7, ?4
FROM json_each(?2) AS j
WHERE NOT EXISTS (SELECT 1 FROM stock_holds WHERE hold = ?1) AND NOT EXISTS (
	SELECT 1 FROM json_each(?2) AS k
	WHERE json_extract(k.value, '$.q') + (SELECT COALESCE(SUM(h.quantity), 0) FROM stock_holds AS h
		WHERE h.product_id = json_extract(k.value, '$.p') AND h.hold <> ?1 AND ` + activeHold + `) > json_extract(k.value, '$.s'))
ON CONFLICT (hold, product_id) DO NOTHING`

	// dropLapsedSQL removes a hold's rows that count no more, before it is
	// taken again.
	dropLapsedSQL = `DELETE FROM stock_holds WHERE hold = ?1 AND (state = 'released' OR (state = 'held' AND expires_at <= ?2))`

	heldSQL = `SELECT COALESCE(SUM(h.quantity), 0) FROM stock_holds AS h WHERE h.product_id = ?1 AND ` + activeHoldAt2
)

func (s *SQLStore) Get(ctx context.Context, key string) (*Order, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM orders
WHERE id = ?1 OR session_id = ?1 OR payment_intent_id = ?1 OR ref = ?1
ORDER BY (ref = ?1) ASC, created_at DESC, id DESC LIMIT 1`, key)
	if err != nil {
		return nil, fmt.Errorf("read order %s: %w", key, err)
	}
	orders, err := scanOrders(rows)
	if err != nil || len(orders) == 0 {
		return nil, err
	}
	return &orders[0], nil
}

func linesJSON(lines []Line) (string, error) {
	if lines == nil {
		lines = []Line{}
	}
	b, err := json.Marshal(lines)
	return string(b), err
}

func detailsJSON(d *Details) (string, error) {
	b, err := json.Marshal(d)
	return string(b), err
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (s *SQLStore) Create(ctx context.Context, o *Order) (bool, error) {
	lines, err := linesJSON(o.Lines)
	if err != nil {
		return false, err
	}
	details, err := detailsJSON(&o.Details)
	if err != nil {
		return false, err
	}
	n, err := s.exec(ctx, "create order "+o.ID, createSQL, o.ID, o.Ref, o.Flow, string(o.State), string(o.Payment), o.Review,
		o.SessionID, o.PaymentIntentID, o.Email, o.Currency, o.AmountTotal, o.AmountReceived, o.AmountCapturable,
		o.AmountRefunded, o.Dispute, o.DeclineCode, boolInt(o.Livemode), lines, o.Created, details, o.Reference)
	return n == 1, err
}

func (s *SQLStore) Update(ctx context.Context, o *Order) (bool, error) {
	lines, err := linesJSON(o.Lines)
	if err != nil {
		return false, err
	}
	details, err := detailsJSON(&o.Details)
	if err != nil {
		return false, err
	}
	n, err := s.exec(ctx, "update order "+o.ID, updateSQL, o.ID, o.Ref, o.Flow, string(o.State), string(o.Payment), o.Review,
		o.SessionID, o.PaymentIntentID, o.Email, o.Currency, o.AmountTotal, o.AmountReceived, o.AmountCapturable,
		o.AmountRefunded, o.Dispute, o.DeclineCode, boolInt(o.Livemode), lines, o.Updated, o.Version, details, o.Reference)
	return n == 1, err
}

func scanOrders(rows *sql.Rows) ([]Order, error) {
	defer rows.Close()
	var out []Order
	for rows.Next() {
		var o Order
		var state, payment, lines, details string
		var livemode int64
		if err := rows.Scan(&o.ID, &o.Ref, &o.Flow, &state, &payment, &o.Review, &o.SessionID, &o.PaymentIntentID,
			&o.Email, &o.Currency, &o.AmountTotal, &o.AmountReceived, &o.AmountCapturable, &o.AmountRefunded, &o.Dispute,
			&o.DeclineCode, &livemode, &lines, &details, &o.Fulfillment.Status, &o.Fulfillment.Attempts, &o.Fulfillment.At,
			&o.Created, &o.Updated, &o.Version, &o.Reference); err != nil {
			return nil, err
		}
		o.State, o.Payment, o.Livemode = State(state), State(payment), livemode != 0
		o.Lines = []Line{}
		if err := json.Unmarshal([]byte(lines), &o.Lines); err != nil {
			return nil, fmt.Errorf("order %s: lines: %w", o.ID, err)
		}
		if err := json.Unmarshal([]byte(details), &o.Details); err != nil {
			return nil, fmt.Errorf("order %s: details: %w", o.ID, err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func (s *SQLStore) List(ctx context.Context, q Query) ([]Order, bool, error) {
	query := `SELECT ` + columns + ` FROM orders WHERE true`
	var args []any
	if q.State != "" {
		args = append(args, string(q.State))
		query += fmt.Sprintf(" AND state = ?%d", len(args))
	}
	if q.After != nil {
		args = append(args, q.After.Created, q.After.ID)
		query += fmt.Sprintf(" AND (created_at < ?%d OR (created_at = ?%d AND id < ?%d))", len(args)-1, len(args)-1, len(args))
	}
	args = append(args, q.Limit+1)
	query += fmt.Sprintf(" ORDER BY created_at DESC, id DESC LIMIT ?%d", len(args))
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("list orders: %w", err)
	}
	orders, err := scanOrders(rows)
	if err != nil {
		return nil, false, fmt.Errorf("list orders: %w", err)
	}
	more := len(orders) > q.Limit
	if more {
		orders = orders[:q.Limit]
	}
	return orders, more, nil
}

// exec runs a statement and returns the number of rows it changed.
func (s *SQLStore) exec(ctx context.Context, what, query string, args ...any) (int64, error) {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: rows affected: %w", what, err)
	}
	return n, nil
}

func (s *SQLStore) ClaimFulfillment(ctx context.Context, id, claim string, now, staleBefore time.Time) (bool, error) {
	n, err := s.exec(ctx, "claim fulfillment of "+id, claimSQL, id, claim, now.Unix(), staleBefore.Unix())
	return n == 1, err
}

func (s *SQLStore) FinishFulfillment(ctx context.Context, id, claim string, now time.Time) (bool, error) {
	n, err := s.exec(ctx, "finish fulfillment of "+id, finishSQL, id, claim, now.Unix())
	return n == 1, err
}

func (s *SQLStore) ReleaseFulfillment(ctx context.Context, id, claim string) error {
	_, err := s.exec(ctx, "release fulfillment of "+id, releaseSQL, id, claim)
	return err
}

func (s *SQLStore) EventProcessed(ctx context.Context, id string) (bool, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_events WHERE id = ?1`, id).Scan(&n); err != nil {
		return false, fmt.Errorf("look up event %s: %w", id, err)
	}
	return n > 0, nil
}

func (s *SQLStore) RecordEvent(ctx context.Context, id, typ, orderID string, now time.Time) error {
	_, err := s.exec(ctx, "record event "+id, `INSERT INTO webhook_events (id, type, order_id, received_at)
VALUES (?1, ?2, NULLIF(?3, ''), ?4) ON CONFLICT (id) DO NOTHING`, id, typ, orderID, now.Unix())
	return err
}

// holdRow is what Reserve and SyncHold read of a hold before deciding.
type holdRow struct {
	exists    bool
	state     string
	expires   int64
	objectID  string
	version   int64
	activeNow bool
}

func (s *SQLStore) readHold(ctx context.Context, hold string, now time.Time) (holdRow, error) {
	var h holdRow
	err := s.db.QueryRowContext(ctx, `SELECT state, expires_at, COALESCE(object_id, ''), version FROM stock_holds WHERE hold = ?1 LIMIT 1`, hold).
		Scan(&h.state, &h.expires, &h.objectID, &h.version)
	switch {
	case err == sql.ErrNoRows:
		return h, nil
	case err != nil:
		return h, fmt.Errorf("read stock hold %s: %w", hold, err)
	}
	h.exists = true
	h.activeNow = h.state == holdCommitted || (h.state == holdHeld && h.expires > now.Unix())
	return h, nil
}

// take drops the hold's lapsed rows and inserts lines in state, with the
// stock check. It reports whether every line was taken.
func (s *SQLStore) take(ctx context.Context, hold, state string, lines []StockLine, expires, now time.Time, objectID string, version int64) (bool, error) {
	if _, err := s.exec(ctx, "drop lapsed hold "+hold, dropLapsedSQL, hold, now.Unix()); err != nil {
		return false, err
	}
	b, err := json.Marshal(lines)
	if err != nil {
		return false, err
	}
	n, err := s.exec(ctx, "reserve stock for "+hold, insertHoldSQL, hold, string(b), state, now.Unix(), expires.Unix(), objectID, version)
	return n == int64(len(lines)), err
}

func (s *SQLStore) Reserve(ctx context.Context, hold string, lines []StockLine, expires, now time.Time) (Reservation, error) {
	// Try first: a new hold is the common case, and costs two statements.
	ok, err := s.take(ctx, hold, holdHeld, lines, expires, now, "", 0)
	if err != nil || ok {
		return Reserved, err
	}
	// None inserted: the hold stands (a retried request, or a paid order's
	// committed hold), or the stock is short.
	h, err := s.readHold(ctx, hold, now)
	switch {
	case err != nil:
		return OutOfStock, err
	case h.exists && h.state == holdCommitted:
		return AlreadyCommitted, nil
	case h.exists && h.activeNow:
		return Reserved, nil
	}
	return OutOfStock, nil
}

func (s *SQLStore) SyncHold(ctx context.Context, hold, objectID string, version int64, commit bool, lines []StockLine, now time.Time) (Reservation, error) {
	const mine = `hold = ?1 AND (object_id IS NULL OR object_id = ?2) AND version < ?3`
	if !commit {
		_, err := s.exec(ctx, "release hold "+hold, `UPDATE stock_holds SET state = 'released', object_id = ?2, version = ?3 WHERE `+mine, hold, objectID, version)
		return Reserved, err
	}
	n, err := s.exec(ctx, "commit hold "+hold, `UPDATE stock_holds AS h SET state = 'committed', object_id = ?2, version = ?3
WHERE `+mine+` AND `+activeHold, hold, objectID, version, now.Unix())
	if err != nil || n > 0 {
		return Reserved, err
	}
	h, err := s.readHold(ctx, hold, now)
	if err != nil {
		return Oversold, err
	}
	if h.exists && ((h.objectID != "" && h.objectID != objectID) || h.version >= version) {
		return Skipped, nil
	}
	// Released or lapsed (or never taken): take the stock again if it is there.
	ok, err := s.take(ctx, hold, holdCommitted, lines, now, now, objectID, version)
	if err != nil {
		return Oversold, err
	}
	if !ok {
		return Oversold, nil
	}
	return Reserved, nil
}

func (s *SQLStore) ReleaseHold(ctx context.Context, hold string) error {
	_, err := s.exec(ctx, "release hold "+hold, `UPDATE stock_holds SET state = 'released' WHERE hold = ?1 AND state = 'held' AND object_id IS NULL`, hold)
	return err
}

func (s *SQLStore) Held(ctx context.Context, product string, now time.Time) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, heldSQL, product, now.Unix()).Scan(&n); err != nil {
		return 0, fmt.Errorf("held stock of %s: %w", product, err)
	}
	return n, nil
}
