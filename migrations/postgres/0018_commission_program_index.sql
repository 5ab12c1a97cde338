-- The console's Commissions page (and GET /commissions?programId=) pages one program's
-- commissions newest first.
CREATE INDEX IF NOT EXISTS commissions_program_accrued ON commissions (program_id, accrued_at DESC, id DESC);
