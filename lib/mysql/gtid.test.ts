import { describe, expect, it } from '@jest/globals';
import { ahead, divergedMariadb, hasErrantMariadb, hasErrantMysql, pickCandidate, progress } from './gtid.ts';

describe('GTID progress', () => {
  it('compares MariaDB positions per domain and MySQL sets per source', () => {
    expect(ahead(progress('0-1-10,1-2-5', 'mariadb'), progress('0-1-7,1-2-5', 'mariadb'))).toBe(3);
    expect(ahead(progress('0-1-7', 'mariadb'), progress('0-2-9', 'mariadb'))).toBe(0);
    expect(ahead(progress('U:1-100:105', 'mysql'), progress('u:1-90', 'mysql'))).toBe(11);
  });

  it('never prefers a lagging replica over a more advanced one', () => {
    const c = pickCandidate([
      { name: 'a', received: '0-1-90', applied: '0-1-90', lagSeconds: 0 },
      { name: 'b', received: '0-1-120', applied: '0-1-80', lagSeconds: 30 },
      { name: 'c', received: '0-1-100', applied: '0-1-100', lagSeconds: 0 },
    ], 'mariadb');
    expect(c?.name).toBe('b');
    expect(pickCandidate([], 'mariadb')).toBeUndefined();
  });

  it('finds errant MariaDB transactions: a local write a replica did not receive', () => {
    expect(hasErrantMariadb('0-2-207', '0-1-206', 2)).toBe(true);
    expect(hasErrantMariadb('0-1-207', '0-1-207', 2)).toBe(false);
    // A replica whose binlog ends with its source's transactions has nothing of its own.
    expect(hasErrantMariadb('0-1-300', '0-1-300', 2)).toBe(false);
  });

  it('tells a former source that kept unreplicated writes from one that can follow the new source', () => {
    expect(divergedMariadb('0-1-586', '0-1-587')).toBe(false); // behind: it can catch up
    expect(divergedMariadb('0-1-587', '0-1-587')).toBe(false); // exactly what the new source had
    expect(divergedMariadb('0-1-588', '0-1-587')).toBe(true); // a write the new source never got
    expect(divergedMariadb('0-1-587', '0-2-587')).toBe(true); // same seq, another server: different history
  });

  it('finds errant MySQL transactions: own-uuid writes the source never had', () => {
    const own = '4b0e7d2a-0000-0000-0000-000000000002';
    const src = '4b0e7d2a-0000-0000-0000-000000000001';
    expect(hasErrantMysql(`${src}:1-100,${own}:1`, own, `${src}:1-100`)).toBe(true);
    expect(hasErrantMysql(`${src}:1-100`, own, `${src}:1-100`)).toBe(false);
    // A former source whose writes the current source replicated has none.
    expect(hasErrantMysql(`${src}:1-100,${own}:1-50`, own, `${src}:1-120,${own}:1-50`)).toBe(false);
    expect(hasErrantMysql(`${src}:1-100,${own}:1-51`, own, `${src}:1-120,${own}:1-40:42-50`)).toBe(true);
    expect(hasErrantMysql(`${own}:1-10:12-20`, own, `${own}:1-10:12-25`)).toBe(false);
  });
});
