-- portal: the tables of the legacy PHP application (migrated from MySQL).
-- The PHP app writes here directly over SQL; walbridge reads the changes
-- from the write-ahead log and maps them into salesforce.*.
CREATE SCHEMA IF NOT EXISTS portal;

CREATE TABLE IF NOT EXISTS portal.users (
    id          serial PRIMARY KEY,
    email       varchar(255),
    first_name  varchar(100),
    last_name   varchar(100),
    phone       varchar(40),
    status      varchar(20) DEFAULT 'active',
    created_at  timestamp DEFAULT now(),
    updated_at  timestamp DEFAULT now()
);
