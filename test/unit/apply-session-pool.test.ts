import { describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { ApplySessionPool } from '../../sink/apply-session-pool.js';

// Sessions connect only when a batch asks for the connection: acquiring them opens nothing.
const settings = {
  host: '127.0.0.1',
  port: 1,
  database: 'unused',
  user: 'unused',
  sslMode: 'disable',
} as unknown as ConstructorParameters<typeof ApplySessionPool>[1];

describe('ApplySessionPool', () => {
  it('hands out the lowest free session, at most `size` at once, the next waiter first', async () => {
    const pool = new ApplySessionPool(2, settings, createLogger('silent'));
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect([a.index, b.index]).toEqual([0, 1]);
    const order: number[] = [];
    const third = pool.acquire().then((s) => {
      order.push(s.index);
      return s;
    });
    const fourth = pool.acquire().then((s) => {
      order.push(s.index);
      return s;
    });
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    pool.release(b);
    expect((await third).index).toBe(1);
    pool.release(a);
    expect((await fourth).index).toBe(0);
    expect(order).toEqual([1, 0]);
    pool.release(await third);
    pool.release(await fourth);
    // Free again: the lowest first, so a quiet pipeline keeps to one session.
    expect((await pool.acquire()).index).toBe(0);
  });

  it('keeps each session’s staging tables apart', async () => {
    const pool = new ApplySessionPool(2, settings, createLogger('silent'));
    const a = await pool.acquire();
    const b = await pool.acquire();
    a.stagingTables.add('stage_x');
    expect(b.stagingTables.has('stage_x')).toBe(false);
    expect(pool.size).toBe(2);
    expect(pool.isConnected).toBe(false);
  });

  it('refuses a size below 1', () => {
    expect(() => new ApplySessionPool(0, settings, createLogger('silent'))).toThrow();
  });
});
