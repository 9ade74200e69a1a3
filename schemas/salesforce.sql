-- salesforce: the tables Heroku Connect creates for the synced Salesforce
-- objects (lower-case names, sfid, _hc_lastop, _hc_err, and the trigger log
-- Heroku Connect uses to push local changes out to Salesforce).
-- No triggers here: the Heroku Connect stand-in is added separately.
CREATE SCHEMA IF NOT EXISTS salesforce;

CREATE TABLE IF NOT EXISTS salesforce.account (
    id              serial PRIMARY KEY,
    sfid            varchar(18) UNIQUE,
    external_id__c  varchar(255) UNIQUE,
    name            varchar(255),
    firstname       varchar(40),
    lastname        varchar(80),
    personemail     varchar(80),
    phone           varchar(40),
    systemmodstamp  timestamp,
    isdeleted       boolean,
    _hc_lastop      varchar(32),
    _hc_err         text
);

CREATE TABLE IF NOT EXISTS salesforce._trigger_log (
    id            serial PRIMARY KEY,
    txid          bigint,
    table_name    varchar(128),
    record_id     integer,
    sfid          varchar(18),
    action        varchar(7),
    state         varchar(8),
    sf_result     integer,
    sf_message    text,
    "values"      text,
    old           text,
    created_at    timestamp DEFAULT now(),
    updated_at    timestamp DEFAULT now(),
    processed_at  timestamp,
    processed_tx  bigint
);
CREATE INDEX IF NOT EXISTS _trigger_log_idx_state_id
    ON salesforce._trigger_log (state, id);
CREATE INDEX IF NOT EXISTS _trigger_log_idx_created_at
    ON salesforce._trigger_log (created_at);

-- Account fields the mapping language examples write
-- (deploy/walbridge.three-schemas.yaml): the standard AccountSource picklist
-- and a custom status.
ALTER TABLE salesforce.account ADD COLUMN IF NOT EXISTS accountsource varchar(255);
ALTER TABLE salesforce.account ADD COLUMN IF NOT EXISTS status__c varchar(255);

-- Contacts, fed from public.customers (the Rails API).
CREATE TABLE IF NOT EXISTS salesforce.contact (
    id              serial PRIMARY KEY,
    sfid            varchar(18) UNIQUE,
    external_id__c  varchar(255) UNIQUE,
    firstname       varchar(40),
    lastname        varchar(80),
    email           varchar(80),
    leadsource      varchar(255),
    accountid       varchar(18),
    systemmodstamp  timestamp,
    isdeleted       boolean,
    _hc_lastop      varchar(32),
    _hc_err         text
);

-- Leads, created once per new public.customers row (insert-only: sales
-- works the lead in Salesforce afterwards).
CREATE TABLE IF NOT EXISTS salesforce.lead (
    id              serial PRIMARY KEY,
    sfid            varchar(18) UNIQUE,
    external_id__c  varchar(255) UNIQUE,
    firstname       varchar(40),
    lastname        varchar(80),
    email           varchar(80),
    company         varchar(255),
    leadsource      varchar(255),
    status          varchar(255),
    systemmodstamp  timestamp,
    isdeleted       boolean,
    _hc_lastop      varchar(32),
    _hc_err         text
);

-- A custom object for portal.orders.  account__c is a lookup to Account:
-- it holds the account's sfid (18 characters), not walbridge's key.
CREATE TABLE IF NOT EXISTS salesforce.order__c (
    id              serial PRIMARY KEY,
    sfid            varchar(18) UNIQUE,
    external_id__c  varchar(255) UNIQUE,
    name            varchar(80),
    account__c      varchar(18),
    amount__c       numeric(18,2),
    status__c       varchar(255),
    order_date__c   date,
    systemmodstamp  timestamp,
    isdeleted       boolean,
    _hc_lastop      varchar(32),
    _hc_err         text
);
