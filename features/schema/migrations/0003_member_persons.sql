-- Butler unified store, version 3: the persons `butler members resolve` found
-- (services/identity.py), so the butler and marketing's reports read them without re-resolving.
-- Timestamps: UTC.

-- One row per member account: the person it belongs to in the latest resolution. Each
-- resolution replaces the whole table, so it never mixes two runs.
CREATE TABLE member_persons (
    platform           VARCHAR NOT NULL,
    platform_user_id   VARCHAR NOT NULL,
    person_id          VARCHAR NOT NULL,
    cluster_size       INTEGER NOT NULL CHECK (cluster_size >= 1),
    match_probability  DOUBLE CHECK (match_probability BETWEEN 0 AND 1),  -- NULL when alone
    model_version      VARCHAR NOT NULL,
    resolved_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (platform, platform_user_id)
);
