-- The site's own order reference and the discount a promotion code took off.
--
-- reference: Checkout's client_reference_id when the site set one
-- (data-checkout-reference), '' otherwise; the kit's own reference stays in
-- `ref`. amount_discount: the session's total_details.amount_discount, which
-- the order's check subtracts from its lines (worker/orders Order.Check).

ALTER TABLE orders ADD COLUMN reference TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN amount_discount INTEGER NOT NULL DEFAULT 0;
