-- The finish order is now set by the write that finishes an iteration (see
-- rjobs-store/src/sql/finish_order.rs), so no row is ever left unstamped: the index of
-- unstamped rows that 0020 added for a second stamping write has nothing left to serve.

DROP INDEX iterations_unstamped;
