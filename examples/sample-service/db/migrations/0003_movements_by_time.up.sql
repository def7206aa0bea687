-- Built without blocking writes: runs outside a transaction, on its own.
CREATE INDEX CONCURRENTLY stock_movements_moved_at ON stock_movements (moved_at);
