-- The Stripe objects that paid one sale (db::stripe_billing::sale_refs): recording a sale
-- re-queues the refunds and disputes waiting on any of them, including a payment intent or
-- charge an `invoice_payment.paid` linked before the invoice's own event arrived.
CREATE INDEX stripe_sales_by_sale ON stripe_sales (external_event_id);
