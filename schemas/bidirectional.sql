-- bidirectional.sql - what mappings with a conflict: policy need of the
-- example schemas (README.md, "Three writers"):
--   psql -v ON_ERROR_STOP=1 -f schemas/bidirectional.sql
-- The source tables of such mappings must send their whole old row, so
-- that walbridge can tell which mapped values an update changed and
-- whether the target's value was changed by someone else meanwhile.
-- last_writer_wins by commit_time also needs, once per server (restart):
--   ALTER SYSTEM SET track_commit_timestamp = on;
ALTER TABLE portal.users REPLICA IDENTITY FULL;
ALTER TABLE public.customers REPLICA IDENTITY FULL;
ALTER TABLE salesforce.account REPLICA IDENTITY FULL;
ALTER TABLE salesforce.contact REPLICA IDENTITY FULL;
