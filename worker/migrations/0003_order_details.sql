-- What the shopper gave besides the payment, and how an order's total is
-- made: the shipping address and rate, phone, custom fields, tax IDs, the
-- shipping, tax and discount amounts, and an expired session's recovery URL.
-- One JSON object (worker/orders Details), written with the order's other
-- fields by the same compare-and-swap UPDATE; '{}' for orders recorded
-- before it.
ALTER TABLE orders ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
