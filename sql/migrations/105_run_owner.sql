-- 105_run_owner: which process runs a run (issue 22), so a run whose process is gone is
-- shown as such instead of `running` forever.
-- owner_host   host name of the process that started (or took over) the run
-- owner_pid    its process id
-- owner_start  when that process started: '<boot id>/<clock ticks since boot>' (Linux
--              /proc), so a pid reused later is not taken for the owner; NULL elsewhere
-- Set by every start of the run (a re-run of the same command takes the run over).
-- Readers (read-only connections) show a `running` run whose owner is gone from this host
-- as `abandoned` (cleann/store/owner.py); that value is never stored.
-- Stored statuses: running | completed | partial | failed | interrupted (Ctrl-C: the
-- command stopped, the run can be resumed by running the same command again).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS owner_host VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS owner_pid BIGINT;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS owner_start VARCHAR;
