import { describe, expect, it } from 'vitest';
import { isDataRejection } from '../../src/ledger/rejection.js';

describe('isDataRejection', () => {
  it('counts what fails again on every retry: data exceptions, constraints, limits', () => {
    for (const code of ['22021', '22P05', '22003', '23502', '23514', '54000', 'SQLITE_CONSTRAINT', 'SQLITE_CONSTRAINT_CHECK', 'SQLITE_MISMATCH', 'SQLITE_TOOBIG']) {
      expect(isDataRejection(Object.assign(new Error('x'), { code })), code).toBe(true);
    }
  });

  it('leaves what passes once the ledger recovers, and evosync\'s own errors, to be retried', () => {
    for (const code of ['40P01', '40001', '08006', '57P01', '53300', 'ECONNREFUSED', 'SQLITE_BUSY', 'SQLITE_FULL', 'SQLITE_IOERR_WRITE', 'SQLITE_READONLY', 'SQLITE_WRITER_GONE', 'SQLITE_CONSTRAINTX']) {
      expect(isDataRejection(Object.assign(new Error('x'), { code })), code).toBe(false);
    }
    expect(isDataRejection(new TypeError('Do not know how to serialize a BigInt'))).toBe(false);
    expect(isDataRejection(null)).toBe(false);
    expect(isDataRejection({ code: 22021 })).toBe(false);
  });
});
