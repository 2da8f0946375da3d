-- Butler unified store, version 2: the supervisors' chat-risk patrol (services/risk_patrol.py).
-- Timestamps: UTC.

-- One alert per session and risk scenario. The key makes raising an alert idempotent: a
-- scenario found again in a later patrol never adds a second row, and an acknowledged alert
-- stays acknowledged.
CREATE TABLE risk_alerts (
    platform         VARCHAR NOT NULL,
    session_id       VARCHAR NOT NULL,
    scenario         VARCHAR NOT NULL,   -- a features.schema.vocab.RiskLabel value
    shop_id          VARCHAR,
    severity         VARCHAR NOT NULL CHECK (severity IN ('high', 'medium')),
    probability      DOUBLE NOT NULL CHECK (probability BETWEEN 0 AND 1),
    risk_score       DOUBLE NOT NULL CHECK (risk_score BETWEEN 0 AND 1),  -- of the whole session
    evidence         VARCHAR NOT NULL DEFAULT '[]',  -- JSON list of the evidence messages' seq
    status           VARCHAR NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged')),
    raised_at        TIMESTAMP NOT NULL,
    acknowledged_at  TIMESTAMP,
    model_version    VARCHAR NOT NULL,
    PRIMARY KEY (platform, session_id, scenario),
    CHECK ((status = 'acknowledged') = (acknowledged_at IS NOT NULL))
);

-- How much of each session the patrol has read: a session is scanned again only when it has
-- more messages than this (a later export added some).
CREATE TABLE risk_patrol_log (
    platform          VARCHAR NOT NULL,
    session_id        VARCHAR NOT NULL,
    messages_scanned  INTEGER NOT NULL CHECK (messages_scanned >= 0),
    scanned_at        TIMESTAMP NOT NULL,
    model_version     VARCHAR NOT NULL,
    PRIMARY KEY (platform, session_id)
);
