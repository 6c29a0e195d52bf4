-- Orders belong to the Stripe object that paid them, and stock is reserved.
--
-- 0001 keyed an order by the kit's order reference (metadata kit_order),
-- which a client's idempotency key chose, so records about two Stripe
-- objects could merge into one order. From here an order's id is its paying
-- object's id: the Checkout Session (cs_...) or, in the confirm-intent flow,
-- the PaymentIntent (pi_...); the reference is kept in `ref`. The lines move
-- into the order row (a JSON array; they never change), the state machine's
-- facts (payment state, refunds, dispute, review) get columns, and writes
-- are compare-and-swap on `version` (worker/orders/sql.go).
--
-- Stock is held in stock_holds: one row per stocked product of an order,
-- taken in one conditional INSERT before the Checkout Session or
-- PaymentIntent is created, committed when the order is placed, released
-- when it ends. Orders that counted against the stock under 0001 (awaiting
-- payment, paid, authorized, captured) become committed holds.

CREATE TABLE orders_v2 (
  id TEXT PRIMARY KEY,
  ref TEXT NOT NULL DEFAULT '',
  flow TEXT NOT NULL CHECK (flow IN ('checkout', 'confirm_intent')),
  -- The state the operator sees, derived from the facts below (worker/orders).
  state TEXT NOT NULL CHECK (state IN ('awaiting_payment', 'paid', 'failed', 'expired', 'authorized', 'captured', 'canceled',
    'needs_review', 'partially_refunded', 'refunded', 'disputed', 'dispute_lost')),
  payment_state TEXT NOT NULL CHECK (payment_state IN ('awaiting_payment', 'paid', 'failed', 'expired', 'authorized', 'captured', 'canceled')),
  review TEXT NOT NULL DEFAULT '',
  session_id TEXT UNIQUE,
  payment_intent_id TEXT UNIQUE,
  email TEXT NOT NULL DEFAULT '',
  currency TEXT NOT NULL DEFAULT '',
  amount_total INTEGER NOT NULL DEFAULT 0,
  amount_received INTEGER NOT NULL DEFAULT 0,
  amount_capturable INTEGER NOT NULL DEFAULT 0,
  amount_refunded INTEGER NOT NULL DEFAULT 0,
  dispute TEXT NOT NULL DEFAULT '' CHECK (dispute IN ('', 'open', 'won', 'lost')),
  decline_code TEXT NOT NULL DEFAULT '',
  livemode INTEGER NOT NULL DEFAULT 0,
  -- [{"product","description","quantity","unit_amount","amount_total"}, ...]
  lines TEXT NOT NULL DEFAULT '[]',
  fulfillment TEXT NOT NULL DEFAULT 'none' CHECK (fulfillment IN ('none', 'claimed', 'done')),
  fulfillment_claim TEXT,
  fulfillment_claimed_at INTEGER,
  fulfillment_attempts INTEGER NOT NULL DEFAULT 0,
  fulfilled_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
);

INSERT INTO orders_v2 (id, ref, flow, state, payment_state, session_id, payment_intent_id, email, currency,
  amount_total, amount_received, amount_capturable, livemode, lines, fulfillment, fulfillment_claim,
  fulfillment_claimed_at, fulfillment_attempts, fulfilled_at, created_at, updated_at)
SELECT
  CASE WHEN o.flow = 'checkout' THEN COALESCE(o.session_id, o.id) ELSE COALESCE(o.payment_intent_id, o.id) END,
  CASE WHEN substr(o.id, 1, 4) = 'ord_' THEN o.id ELSE '' END,
  o.flow, o.state, o.state, o.session_id, o.payment_intent_id, o.email, o.currency,
  o.amount_total, o.amount_received, o.amount_capturable, o.livemode,
  COALESCE((SELECT json_group_array(json_object('product', l.product_id, 'description', l.description,
      'quantity', l.quantity, 'unit_amount', l.unit_amount, 'amount_total', l.amount_total))
    FROM (SELECT * FROM order_lines WHERE order_id = o.id ORDER BY position) AS l), '[]'),
  o.fulfillment, o.fulfillment_claim, o.fulfillment_claimed_at, o.fulfillment_attempts, o.fulfilled_at,
  o.created_at, o.updated_at
FROM orders AS o;

CREATE TABLE stock_holds (
  -- The order reference (kit_order) the hold was taken for, or for an
  -- order without one its id.
  hold TEXT NOT NULL,
  product_id TEXT NOT NULL,
  quantity INTEGER NOT NULL CHECK (quantity > 0),
  -- held: counts until expires_at (Unix seconds); committed: counts until
  -- released; released: counts no more.
  state TEXT NOT NULL CHECK (state IN ('held', 'committed', 'released')),
  expires_at INTEGER NOT NULL,
  -- The order (cs_... or pi_...) the hold belongs to once one is recorded,
  -- and the order version last applied to it.
  object_id TEXT,
  version INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (hold, product_id)
);

CREATE INDEX stock_holds_by_product ON stock_holds (product_id, state, expires_at);

INSERT INTO stock_holds (hold, product_id, quantity, state, expires_at, object_id, version, created_at)
SELECT CASE WHEN substr(o.id, 1, 4) = 'ord_' THEN o.id
    WHEN o.flow = 'checkout' THEN COALESCE(o.session_id, o.id) ELSE COALESCE(o.payment_intent_id, o.id) END,
  l.product_id, SUM(l.quantity), 'committed', 0,
  CASE WHEN o.flow = 'checkout' THEN COALESCE(o.session_id, o.id) ELSE COALESCE(o.payment_intent_id, o.id) END,
  1, o.created_at
FROM orders AS o JOIN order_lines AS l ON l.order_id = o.id
WHERE o.state IN ('awaiting_payment', 'paid', 'authorized', 'captured') AND l.product_id <> '' AND l.quantity > 0
GROUP BY o.id, l.product_id;

DROP TABLE order_lines;
DROP TABLE orders;
ALTER TABLE orders_v2 RENAME TO orders;

CREATE INDEX orders_by_created ON orders (created_at DESC, id DESC);
CREATE INDEX orders_by_state ON orders (state, created_at DESC, id DESC);
CREATE INDEX orders_by_ref ON orders (ref);
