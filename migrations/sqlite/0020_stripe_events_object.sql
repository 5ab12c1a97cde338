-- Events about one Stripe object (a dispute's closure looked up when its opening arrives late).
CREATE INDEX stripe_events_object ON stripe_events (object_id, type);
