-- The site's own order reference: Checkout's client_reference_id when the
-- site set one (data-checkout-reference), '' otherwise. The kit's own
-- reference stays in `ref` (metadata kit_order). A promotion code's discount
-- is in `details` (0003).

ALTER TABLE orders ADD COLUMN reference TEXT NOT NULL DEFAULT '';
