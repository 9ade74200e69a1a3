-- Load the three example schemas: psql -v ON_ERROR_STOP=1 -f schemas/all.sql
-- (\ir resolves the paths relative to this file, not the working directory).
\ir portal.sql
\ir public.sql
\ir salesforce.sql
