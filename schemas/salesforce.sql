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
