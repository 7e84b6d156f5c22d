/**
 * The encryption key test processes that share a database and Redis (distributed mode) are
 * given: such a process refuses to start without one, and they must all use the same. Made per
 * test run, so nothing sealed in one run opens in another.
 */
export const TEST_ENCRYPTION_KEY = `test-${process.pid}-${Date.now()}-`.padEnd(48, "k");
