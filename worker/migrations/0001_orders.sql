-- Orders recorded from Stripe by the webhook and the return page's status
-- call (worker/store_sql.go). Applied by `wrangler d1 migrations apply DB`
-- (--local for wrangler dev, --remote for the deployed database).

CREATE TABLE orders (
  -- The order reference (metadata kit_order, "ord_..."), or for orders made
  -- outside the kit the Checkout Session or PaymentIntent id.
  id TEXT PRIMARY KEY,
  flow TEXT NOT NULL CHECK (flow IN ('checkout', 'confirm_intent')),
  state TEXT NOT NULL CHECK (state IN ('awaiting_payment', 'paid', 'failed', 'expired', 'authorized', 'captured', 'canceled')),
  -- One order per Checkout Session and per PaymentIntent.
  session_id TEXT UNIQUE,
  payment_intent_id TEXT UNIQUE,
  email TEXT NOT NULL DEFAULT '',
  currency TEXT NOT NULL DEFAULT '',
  amount_total INTEGER NOT NULL DEFAULT 0,
  amount_received INTEGER NOT NULL DEFAULT 0,
  amount_capturable INTEGER NOT NULL DEFAULT 0,
  livemode INTEGER NOT NULL DEFAULT 0,
  -- The fulfillment hook: 'none' until a caller claims it ('claimed', with
  -- its claim token and time), 'done' once it succeeded.
  fulfillment TEXT NOT NULL DEFAULT 'none' CHECK (fulfillment IN ('none', 'claimed', 'done')),
  fulfillment_claim TEXT,
  fulfillment_claimed_at INTEGER,
  fulfillment_attempts INTEGER NOT NULL DEFAULT 0,
  fulfilled_at INTEGER,
  -- Unix seconds.
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE INDEX orders_by_created ON orders (created_at DESC, id DESC);
CREATE INDEX orders_by_state ON orders (state, created_at DESC, id DESC);

CREATE TABLE order_lines (
  order_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  -- The catalog's product id ('' when it cannot be told).
  product_id TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  quantity INTEGER NOT NULL,
  unit_amount INTEGER NOT NULL DEFAULT 0,
  amount_total INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (order_id, position)
);

CREATE INDEX order_lines_by_product ON order_lines (product_id);

-- Webhook events processed (their outcome recorded), by Stripe event id.
CREATE TABLE webhook_events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  order_id TEXT,
  received_at INTEGER NOT NULL
);
