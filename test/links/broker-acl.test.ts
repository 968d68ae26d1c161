// The broker's stored password hashes: hashPasswordAsync (fleet-sim hashes a whole fleet's at once in
// libuv's thread pool) gives the same string as hashPassword for the same salt, and checks as one.

import { describe, expect, it } from 'vitest';
import { checkPasswordAsync, hashPassword, hashPasswordAsync } from '../../runtime/links/broker-acl.js';

describe('hashPasswordAsync', () => {
  it('is hashPassword off the event loop: the same hash for the same salt, the right password checks, a wrong one does not', async () => {
    const salt = Buffer.alloc(16, 7);
    const stored = await hashPasswordAsync('pw-d1', salt);
    expect(stored).toBe(hashPassword('pw-d1', salt));
    expect(stored).toMatch(/^scrypt\$[0-9a-f]{32}\$[0-9a-f]{64}$/);
    expect(await checkPasswordAsync('pw-d1', stored)).toBe(true);
    expect(await checkPasswordAsync('pw-d2', stored)).toBe(false);
    // A random salt each time when none is given: two hashes of one password differ.
    expect(await hashPasswordAsync('pw-d1')).not.toBe(await hashPasswordAsync('pw-d1'));
  });
});
