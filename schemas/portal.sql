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

-- Where the account's Salesforce id (salesforce.account.sfid) can be kept
-- once it is known.  Nothing writes it yet: writing it back from
-- salesforce.account would close the cycle portal.users -> salesforce.account
-- -> portal.users, which the convergence work handles.
ALTER TABLE portal.users ADD COLUMN IF NOT EXISTS salesforce_id varchar(18);

-- Orders of the PHP shop.  status is the app's one-letter code:
-- N new, P paid, S shipped, C cancelled.
CREATE TABLE IF NOT EXISTS portal.orders (
    id          serial PRIMARY KEY,
    user_id     integer NOT NULL REFERENCES portal.users (id),
    total       numeric(12,2) NOT NULL DEFAULT 0,
    status      char(1) NOT NULL DEFAULT 'N'
                CHECK (status IN ('N', 'P', 'S', 'C')),
    created_at  timestamp DEFAULT now()
);
CREATE INDEX IF NOT EXISTS orders_user_id_idx ON portal.orders (user_id);
