-- Witness checks (issue 21): each `keyport audit verify --witness` records
-- what it found, so the Integrity page can show the last one. The check
-- itself is also an audit event (audit.verify, step "witness"); this table
-- is the page's convenient copy, not part of the chain. Id lists are kept as
-- ranges ("951–1000") and capped: the audit event and the command's output
-- have the rest.
CREATE TABLE audit_witness_checks (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    checked_at     timestamptz NOT NULL,
    checked_by     text        NOT NULL CHECK (octet_length(checked_by) <= 200),
    source         text        NOT NULL CHECK (octet_length(source) <= 1000), -- the witness URL without query
    status         text        NOT NULL CHECK (status IN ('agrees', 'missing', 'differs', 'behind', 'broken')),
    witness_events bigint      NOT NULL,
    witness_first  bigint      NOT NULL,
    witness_last   bigint      NOT NULL,
    db_head        bigint      NOT NULL,
    missing        bigint      NOT NULL,
    missing_ids    text        NOT NULL CHECK (octet_length(missing_ids) <= 2000),
    differs        bigint      NOT NULL,
    differs_ids    text        NOT NULL CHECK (octet_length(differs_ids) <= 2000),
    behind         bigint      NOT NULL,
    chain          text        NOT NULL CHECK (octet_length(chain) <= 2000) -- the plain verify's one line
);

---- create above / drop below ----
DROP TABLE audit_witness_checks;
