-- Butler unified store, version 4: every person id `butler members resolve` retired
-- (services/identity.py), so marketing's CRM can follow an old id to the person holding it
-- now, and no later resolution gives an old id to somebody else. Timestamps: UTC.

-- One row per retired id. `person_id` is the id that holds its accounts now (kept current
-- when that person is merged in turn), NULL when none of its accounts is left.
CREATE TABLE person_id_history (
    former_person_id  VARCHAR PRIMARY KEY,
    person_id         VARCHAR,
    retired_at        TIMESTAMP NOT NULL,
    model_version     VARCHAR NOT NULL
);
