-- Butler unified store, version 5: an alert a rescan by a retrained classifier no longer finds
-- is withdrawn (services/risk_patrol.py, `butler risk patrol --rescan`), kept for the record.
-- DuckDB cannot change a CHECK constraint in place, so the table is rebuilt with its rows.

CREATE TABLE risk_alerts_v5 (
    platform         VARCHAR NOT NULL,
    session_id       VARCHAR NOT NULL,
    scenario         VARCHAR NOT NULL,   -- a features.schema.vocab.RiskLabel value
    shop_id          VARCHAR,
    severity         VARCHAR NOT NULL CHECK (severity IN ('high', 'medium')),
    probability      DOUBLE NOT NULL CHECK (probability BETWEEN 0 AND 1),
    risk_score       DOUBLE NOT NULL CHECK (risk_score BETWEEN 0 AND 1),  -- of the whole session
    evidence         VARCHAR NOT NULL DEFAULT '[]',  -- JSON list of the evidence messages' seq
    status           VARCHAR NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'acknowledged', 'withdrawn')),
    raised_at        TIMESTAMP NOT NULL,
    acknowledged_at  TIMESTAMP,
    model_version    VARCHAR NOT NULL,
    PRIMARY KEY (platform, session_id, scenario),
    CHECK ((status = 'acknowledged') = (acknowledged_at IS NOT NULL))
);
INSERT INTO risk_alerts_v5 SELECT * FROM risk_alerts;
DROP TABLE risk_alerts;
ALTER TABLE risk_alerts_v5 RENAME TO risk_alerts;
