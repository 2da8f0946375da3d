-- Butler unified store, version 1.
-- The high-volume tables (orders, order_lines, sales_daily, inventory_snapshots) carry no PRIMARY KEY index: on
-- this hardware an ART index on a composite text key caps inserts near 230k rows/s, while
-- delete-by-key + insert runs several times faster. Their natural keys are declared in
-- features/schema/__init__.py (INDEX_FREE_KEYS) and enforced by Store.upsert.
-- Money: integer fen. Timestamps: UTC. Business dates and weeks: Asia/Shanghai, weeks start Monday.

CREATE TABLE platforms (
    platform      VARCHAR PRIMARY KEY,
    name_zh       VARCHAR NOT NULL,
    name_en       VARCHAR NOT NULL,
    is_channel    BOOLEAN NOT NULL
);

CREATE TABLE shops (
    platform      VARCHAR NOT NULL,
    shop_id       VARCHAR NOT NULL,
    shop_name     VARCHAR,
    expected      BOOLEAN NOT NULL DEFAULT FALSE,  -- declared in the ERP: should deliver data
    opened_on     DATE,
    PRIMARY KEY (platform, shop_id)
);

CREATE TABLE warehouses (
    warehouse_id  VARCHAR PRIMARY KEY,
    name          VARCHAR NOT NULL,
    region        VARCHAR,
    province      VARCHAR,
    city          VARCHAR
);

CREATE TABLE products (
    product_id    VARCHAR PRIMARY KEY,
    name          VARCHAR NOT NULL,
    category      VARCHAR,
    brand         VARCHAR,
    launched_on   DATE
);

CREATE TABLE skus (
    sku_id          VARCHAR PRIMARY KEY,
    product_id      VARCHAR NOT NULL,
    spec            VARCHAR,
    barcode         VARCHAR,
    list_price_fen  BIGINT CHECK (list_price_fen >= 0),
    unit_cost_fen   BIGINT CHECK (unit_cost_fen >= 0),
    case_pack       INTEGER CHECK (case_pack > 0),
    moq             INTEGER CHECK (moq >= 0),
    lead_time_days  INTEGER CHECK (lead_time_days >= 0)
);

-- Each platform's item/SKU ids mapped to one internal SKU.
CREATE TABLE sku_map (
    platform          VARCHAR NOT NULL,
    platform_sku_id   VARCHAR NOT NULL,
    platform_item_id  VARCHAR,
    sku_id            VARCHAR NOT NULL,
    PRIMARY KEY (platform, platform_sku_id)
);

CREATE TABLE orders (
    platform           VARCHAR NOT NULL,
    order_id           VARCHAR NOT NULL,
    shop_id            VARCHAR NOT NULL,
    buyer_id           VARCHAR,
    status             VARCHAR NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    paid_at            TIMESTAMP,
    receiver_name      VARCHAR,
    receiver_phone     VARCHAR,   -- as exported; masked on some platforms (138****5678)
    receiver_province  VARCHAR,
    receiver_city      VARCHAR,
    receiver_address   VARCHAR,
    source_file        VARCHAR NOT NULL
    -- natural key (platform, order_id): see features.schema.INDEX_FREE_KEYS
);

CREATE TABLE order_lines (
    platform          VARCHAR NOT NULL,
    order_id          VARCHAR NOT NULL,
    line_id           VARCHAR NOT NULL,
    shop_id           VARCHAR NOT NULL,
    sku_id            VARCHAR,          -- internal SKU, NULL while the platform SKU is unmapped
    platform_item_id  VARCHAR,
    platform_sku_id   VARCHAR,
    outer_sku_code    VARCHAR,          -- the merchant's own code (商家编码) as typed on the platform
    title             VARCHAR,
    quantity          INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_fen    BIGINT NOT NULL CHECK (unit_price_fen >= 0),
    paid_fen          BIGINT NOT NULL CHECK (paid_fen >= 0),
    discount_fen      BIGINT NOT NULL DEFAULT 0 CHECK (discount_fen >= 0),
    status            VARCHAR NOT NULL,
    refund_status     VARCHAR NOT NULL DEFAULT 'none',
    refund_fen        BIGINT NOT NULL DEFAULT 0 CHECK (refund_fen >= 0),
    returned_qty      INTEGER NOT NULL DEFAULT 0 CHECK (returned_qty >= 0),
    created_at        TIMESTAMP NOT NULL,
    paid_at           TIMESTAMP,
    warehouse_id      VARCHAR,
    source_file       VARCHAR NOT NULL
    -- natural key (platform, order_id, line_id): see features.schema.INDEX_FREE_KEYS
);

-- Daily sales per SKU x platform x shop x warehouse, rebuilt from order_lines after each ingest.
CREATE TABLE sales_daily (
    day              DATE NOT NULL,      -- Asia/Shanghai
    platform         VARCHAR NOT NULL,
    shop_id          VARCHAR NOT NULL,
    sku_id           VARCHAR NOT NULL,
    warehouse_id     VARCHAR NOT NULL,   -- '' when the platform does not say
    orders           INTEGER NOT NULL,
    units            INTEGER NOT NULL,   -- paid units (cancelled and unpaid lines excluded)
    returned_units   INTEGER NOT NULL,
    gross_fen        BIGINT NOT NULL,
    refund_fen       BIGINT NOT NULL,
    avg_price_fen    BIGINT
    -- unique (day, platform, shop_id, sku_id, warehouse_id) by construction (GROUP BY)
);

CREATE TABLE inventory_snapshots (
    snapshot_date  DATE NOT NULL,
    warehouse_id   VARCHAR NOT NULL,
    sku_id         VARCHAR NOT NULL,
    on_hand        INTEGER NOT NULL CHECK (on_hand >= 0),
    reserved       INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    source_file    VARCHAR NOT NULL
    -- natural key (snapshot_date, warehouse_id, sku_id): see features.schema.INDEX_FREE_KEYS
);

CREATE TABLE purchase_orders (
    po_id          VARCHAR NOT NULL,
    line_no        INTEGER NOT NULL,
    sku_id         VARCHAR NOT NULL,
    warehouse_id   VARCHAR NOT NULL,
    qty_ordered    INTEGER NOT NULL CHECK (qty_ordered > 0),
    qty_received   INTEGER NOT NULL DEFAULT 0 CHECK (qty_received >= 0),
    ordered_on     DATE NOT NULL,
    expected_on    DATE,
    status         VARCHAR NOT NULL,  -- open | in_transit | received | cancelled
    source_file    VARCHAR NOT NULL,
    PRIMARY KEY (po_id, line_no)
);

-- What each shop lists on its platform: listed or not, price, the stock the platform shows.
CREATE TABLE listings (
    platform          VARCHAR NOT NULL,
    shop_id           VARCHAR NOT NULL,
    platform_sku_id   VARCHAR NOT NULL,
    platform_item_id  VARCHAR,
    outer_sku_code    VARCHAR,
    sku_id            VARCHAR,
    title             VARCHAR,
    listed            BOOLEAN NOT NULL,
    price_fen         BIGINT CHECK (price_fen >= 0),
    platform_stock    INTEGER,
    updated_at        TIMESTAMP NOT NULL,
    source_file       VARCHAR NOT NULL,
    PRIMARY KEY (platform, shop_id, platform_sku_id)
);

-- Promotions and price changes.
CREATE TABLE promotions (
    platform          VARCHAR NOT NULL,
    shop_id           VARCHAR NOT NULL,
    promo_id          VARCHAR NOT NULL,
    platform_sku_id   VARCHAR NOT NULL,
    sku_id            VARCHAR,
    kind              VARCHAR NOT NULL,  -- promotion | price_change
    name              VARCHAR,
    starts_at         TIMESTAMP NOT NULL,
    ends_at           TIMESTAMP,
    price_fen         BIGINT NOT NULL CHECK (price_fen >= 0),
    source_file       VARCHAR NOT NULL,
    PRIMARY KEY (platform, shop_id, promo_id, platform_sku_id),
    CHECK (ends_at IS NULL OR ends_at >= starts_at)
);

-- One row per platform account; raw fields kept as exported.
CREATE TABLE members (
    platform          VARCHAR NOT NULL,
    platform_user_id  VARCHAR NOT NULL,
    shop_id           VARCHAR,
    nickname          VARCHAR,
    full_name         VARCHAR,
    phone             VARCHAR,   -- as exported, possibly masked
    email             VARCHAR,
    birth_date        DATE,
    gender            VARCHAR,
    province          VARCHAR,
    city              VARCHAR,
    district          VARCHAR,
    address_line      VARCHAR,
    device_id         VARCHAR,
    union_id          VARCHAR,
    registered_at     TIMESTAMP,
    raw               JSON NOT NULL,
    source_file       VARCHAR NOT NULL,
    PRIMARY KEY (platform, platform_user_id)
);

CREATE TABLE chat_sessions (
    platform       VARCHAR NOT NULL,
    session_id     VARCHAR NOT NULL,
    shop_id        VARCHAR NOT NULL,
    buyer_id       VARCHAR,
    order_id       VARCHAR,
    started_at     TIMESTAMP NOT NULL,
    ended_at       TIMESTAMP NOT NULL,
    message_count  INTEGER NOT NULL,
    PRIMARY KEY (platform, session_id)
);

CREATE TABLE chat_messages (
    platform     VARCHAR NOT NULL,
    session_id   VARCHAR NOT NULL,
    seq          INTEGER NOT NULL CHECK (seq >= 0),
    shop_id      VARCHAR NOT NULL,
    buyer_id     VARCHAR,
    order_id     VARCHAR,
    role         VARCHAR NOT NULL CHECK (role IN ('buyer', 'agent')),
    sent_at      TIMESTAMP NOT NULL,
    text         VARCHAR NOT NULL,
    source_file  VARCHAR NOT NULL,
    PRIMARY KEY (platform, session_id, seq)
);

-- Bookkeeping: every file ever ingested, and every row rejected with its reason.
CREATE TABLE ingested_files (
    file_sha256        VARCHAR PRIMARY KEY,
    path               VARCHAR NOT NULL,
    platform           VARCHAR NOT NULL,
    kind               VARCHAR NOT NULL,
    rows_read          BIGINT NOT NULL,
    rows_accepted      BIGINT NOT NULL,
    rows_quarantined   BIGINT NOT NULL,
    newest_record_at   TIMESTAMP,
    ingested_at        TIMESTAMP NOT NULL
);

CREATE TABLE quarantine_rows (
    file_sha256     VARCHAR NOT NULL,
    source_file     VARCHAR NOT NULL,
    line            BIGINT NOT NULL,   -- 1-based line of the file (header is line 1) or sheet row
    platform        VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,
    field           VARCHAR NOT NULL,  -- the file's own column header, or '*' for the whole row
    reason          VARCHAR NOT NULL,
    raw             JSON NOT NULL,     -- the row exactly as read
    quarantined_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (file_sha256, line, field)
);
