-- The instance row records when this database was first migrated by Keyport.
CREATE TABLE instance (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
INSERT INTO instance DEFAULT VALUES;

---- create above / drop below ----
DROP TABLE instance;
