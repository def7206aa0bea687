-- The stock items the inventory service keeps.
CREATE TABLE stock_items (
    sku text PRIMARY KEY,
    name text NOT NULL,
    quantity integer NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    unit_price_cents bigint NOT NULL
);
COMMENT ON TABLE stock_items IS 'One row per stock keeping unit.';
