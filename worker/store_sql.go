package worker

// SQLStore: the Store on a database/sql database with the schema of
// worker/migrations (SQLite dialect, as Cloudflare D1 speaks it). On Workers
// the database is D1 through the wasm package's driver; this file knows only
// database/sql.
//
// D1 runs each statement atomically but offers no interactive transactions,
// so every step that must be atomic is one statement: the order UPSERT with
// its state-move guard, the fulfillment claim (an UPDATE whose WHERE clause
// is the claim condition; rows affected tells who won), the event record
// (INSERT ... ON CONFLICT DO NOTHING). Statements bind at most a handful of
// parameters (D1 allows 100): lists travel as one JSON parameter read with
// json_each.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// SQLStore is a Store on database/sql.
type SQLStore struct {
	db *sql.DB
}

// NewSQLStore returns a Store on db, whose schema is worker/migrations'.
func NewSQLStore(db *sql.DB) *SQLStore { return &SQLStore{db: db} }

// sqlList writes states as a SQL list: ('paid', 'captured'). The values are
// this file's constants, never input.
func sqlList(states []OrderState) string {
	q := make([]string, len(states))
	for i, s := range states {
		q[i] = "'" + string(s) + "'"
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// movesSQL is canMove as SQL over the stored row (orders.state) and the
// incoming one (excluded.state).
func movesSQL() string {
	var terms []string
	for _, from := range orderStates {
		if to := stateMoves[from]; len(to) > 0 {
			terms = append(terms, "(orders.state = '"+string(from)+"' AND excluded.state IN "+sqlList(to)+")")
		}
	}
	return "(" + strings.Join(terms, " OR ") + ")"
}

// orderColumns are read by scanOrder, in this order.
const orderColumns = `id, flow, state, COALESCE(session_id, ''), COALESCE(payment_intent_id, ''), email, currency,
	amount_total, amount_received, amount_capturable, livemode, fulfillment, fulfillment_attempts,
	COALESCE(fulfilled_at, 0), created_at, updated_at`

var (
	// upsertOrderSQL is SaveOrder as one statement. In an UPDATE every SET
	// expression sees the row as it was, so the guard is the same for all.
	upsertOrderSQL = `INSERT INTO orders (id, flow, state, session_id, payment_intent_id, email, currency,
	amount_total, amount_received, amount_capturable, livemode, created_at, updated_at)
VALUES (?1, ?2, ?3, NULLIF(?4, ''), NULLIF(?5, ''), ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
ON CONFLICT (id) DO UPDATE SET
	state = CASE WHEN ` + movesSQL() + ` THEN excluded.state ELSE orders.state END,
	amount_received = CASE WHEN ` + movesSQL() + ` THEN excluded.amount_received
		WHEN orders.state = excluded.state THEN MAX(orders.amount_received, excluded.amount_received)
		ELSE orders.amount_received END,
	amount_capturable = CASE WHEN ` + movesSQL() + ` THEN excluded.amount_capturable
		WHEN orders.state = excluded.state THEN MAX(orders.amount_capturable, excluded.amount_capturable)
		ELSE orders.amount_capturable END,
	amount_total = MAX(orders.amount_total, excluded.amount_total),
	session_id = COALESCE(orders.session_id, excluded.session_id),
	payment_intent_id = COALESCE(orders.payment_intent_id, excluded.payment_intent_id),
	email = CASE WHEN orders.email = '' THEN excluded.email ELSE orders.email END,
	currency = CASE WHEN orders.currency = '' THEN excluded.currency ELSE orders.currency END,
	flow = CASE WHEN excluded.flow = '` + FlowCheckout + `' THEN excluded.flow ELSE orders.flow END,
	livemode = MAX(orders.livemode, excluded.livemode),
	updated_at = excluded.updated_at
RETURNING ` + orderColumns

	// insertLinesSQL stores lines (a JSON array) at positions still free.
	// The WHERE clause keeps SQLite from reading ON CONFLICT as a join.
	insertLinesSQL = `INSERT INTO order_lines (order_id, position, product_id, description, quantity, unit_amount, amount_total)
SELECT ?1, j.key, COALESCE(json_extract(j.value, '$.p'), ''), COALESCE(json_extract(j.value, '$.d'), ''),
	json_extract(j.value, '$.q'), json_extract(j.value, '$.u'), json_extract(j.value, '$.t')
FROM json_each(?2) AS j WHERE true
ON CONFLICT (order_id, position) DO NOTHING`

	claimSQL = `UPDATE orders SET fulfillment = '` + FulfillmentClaimed + `', fulfillment_claim = ?2,
	fulfillment_claimed_at = ?3, fulfillment_attempts = fulfillment_attempts + 1, updated_at = ?3
WHERE id = ?1 AND state IN ` + sqlList([]OrderState{StatePaid, StateCaptured}) + `
	AND (fulfillment = '` + FulfillmentNone + `' OR (fulfillment = '` + FulfillmentClaimed + `' AND fulfillment_claimed_at < ?4))`

	finishSQL = `UPDATE orders SET fulfillment = '` + FulfillmentDone + `', fulfillment_claim = NULL, fulfilled_at = ?3, updated_at = ?3
WHERE id = ?1 AND fulfillment = '` + FulfillmentClaimed + `' AND fulfillment_claim = ?2`

	releaseSQL = `UPDATE orders SET fulfillment = '` + FulfillmentNone + `', fulfillment_claim = NULL
WHERE id = ?1 AND fulfillment = '` + FulfillmentClaimed + `' AND fulfillment_claim = ?2`

	soldSQL = `SELECT COALESCE(SUM(l.quantity), 0) FROM order_lines AS l JOIN orders AS o ON o.id = l.order_id
WHERE l.product_id = ?1 AND o.state IN ` + sqlList(soldStates)
)

// lineJSON is a line as insertLinesSQL reads it.
type lineJSON struct {
	P string `json:"p"`
	D string `json:"d"`
	Q int64  `json:"q"`
	U int64  `json:"u"`
	T int64  `json:"t"`
}

func (s *SQLStore) SaveOrder(ctx context.Context, o *OrderRecord) (*OrderRecord, error) {
	if len(o.Lines) > 0 {
		lines := make([]lineJSON, len(o.Lines))
		for i, l := range o.Lines {
			lines[i] = lineJSON{l.Product, l.Description, l.Quantity, l.UnitAmount, l.AmountTotal}
		}
		b, err := json.Marshal(lines)
		if err != nil {
			return nil, err
		}
		if _, err := s.db.ExecContext(ctx, insertLinesSQL, o.ID, string(b)); err != nil {
			return nil, fmt.Errorf("store order %s lines: %w", o.ID, err)
		}
	}
	rows, err := s.db.QueryContext(ctx, upsertOrderSQL, o.ID, o.Flow, string(o.State), o.SessionID, o.PaymentIntentID,
		o.Email, o.Currency, o.AmountTotal, o.AmountReceived, o.AmountCapturable, boolInt(o.Livemode), o.Updated)
	if err != nil {
		return nil, fmt.Errorf("store order %s: %w", o.ID, err)
	}
	orders, err := scanOrders(rows)
	if err != nil {
		return nil, fmt.Errorf("store order %s: %w", o.ID, err)
	}
	if len(orders) != 1 {
		return nil, fmt.Errorf("store order %s: the upsert returned %d rows", o.ID, len(orders))
	}
	return &orders[0], nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func scanOrders(rows *sql.Rows) ([]OrderRecord, error) {
	defer rows.Close()
	var out []OrderRecord
	for rows.Next() {
		var o OrderRecord
		var state string
		var livemode int64
		if err := rows.Scan(&o.ID, &o.Flow, &state, &o.SessionID, &o.PaymentIntentID, &o.Email, &o.Currency,
			&o.AmountTotal, &o.AmountReceived, &o.AmountCapturable, &livemode, &o.Fulfillment.Status, &o.Fulfillment.Attempts,
			&o.Fulfillment.At, &o.Created, &o.Updated); err != nil {
			return nil, err
		}
		o.State, o.Livemode = OrderState(state), livemode != 0
		out = append(out, o)
	}
	return out, rows.Err()
}

// addLines reads the lines of orders (at most a page) in one query.
func (s *SQLStore) addLines(ctx context.Context, orders []OrderRecord) error {
	if len(orders) == 0 {
		return nil
	}
	ids := make([]string, len(orders))
	at := make(map[string]int, len(orders))
	for i, o := range orders {
		ids[i], at[o.ID] = o.ID, i
		orders[i].Lines = []RecordLine{}
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT order_id, product_id, description, quantity, unit_amount, amount_total
FROM order_lines WHERE order_id IN (SELECT value FROM json_each(?1)) ORDER BY order_id, position`, string(b))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var l RecordLine
		if err := rows.Scan(&id, &l.Product, &l.Description, &l.Quantity, &l.UnitAmount, &l.AmountTotal); err != nil {
			return err
		}
		if i, ok := at[id]; ok {
			orders[i].Lines = append(orders[i].Lines, l)
		}
	}
	return rows.Err()
}

func (s *SQLStore) Order(ctx context.Context, key string) (*OrderRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+orderColumns+` FROM orders
WHERE id = ?1 OR session_id = ?1 OR payment_intent_id = ?1 LIMIT 1`, key)
	if err != nil {
		return nil, fmt.Errorf("read order %s: %w", key, err)
	}
	orders, err := scanOrders(rows)
	if err != nil || len(orders) == 0 {
		return nil, err
	}
	if err := s.addLines(ctx, orders); err != nil {
		return nil, fmt.Errorf("read order %s lines: %w", key, err)
	}
	return &orders[0], nil
}

func (s *SQLStore) ListOrders(ctx context.Context, q OrderQuery) ([]OrderRecord, bool, error) {
	query := `SELECT ` + orderColumns + ` FROM orders WHERE true`
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
	if err := s.addLines(ctx, orders); err != nil {
		return nil, false, fmt.Errorf("list order lines: %w", err)
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

func (s *SQLStore) SoldQuantity(ctx context.Context, productID string) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, soldSQL, productID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sold quantity of %s: %w", productID, err)
	}
	return n, nil
}
