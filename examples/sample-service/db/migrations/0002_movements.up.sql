-- Every change of a quantity, for the audit trail.
CREATE TABLE stock_movements (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku text NOT NULL REFERENCES stock_items (sku),
    delta integer NOT NULL,
    moved_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_movements_sku ON stock_movements (sku);
