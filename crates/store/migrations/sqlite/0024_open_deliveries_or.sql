-- The open deliveries' index, its condition written as comparisons. SQLite
-- tests a partial index's condition on every insert and update of the
-- table, and a list of more than two constants after IN is a temporary
-- b-tree it builds for each statement run: one for each delivery inserted,
-- two for each update, ~12,000 instructions each (a ninth of the writer's
-- work per push, profiled with callgrind). Queries that want this index
-- say the same condition (`queue::fifo::OPEN`).
DROP INDEX deliveries_open;
CREATE INDEX deliveries_open ON deliveries(integration_id, id)
    WHERE state = 'waiting' OR state = 'pending' OR state = 'leased';
