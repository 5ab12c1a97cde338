-- The console's Mail page (GET /admin/mail/messages) pages the outbox newest first, all of it
-- or one status at a time.
CREATE INDEX IF NOT EXISTS mail_outbox_list ON mail_outbox (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS mail_outbox_status_list ON mail_outbox (status, created_at DESC, id DESC);
