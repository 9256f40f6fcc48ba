import { describe, expect, it } from '@jest/globals';
import { judgeSourceLoss } from './vantage.ts';

const lost = { ioRunning: 'Connecting', sourceUnreachable: true };
const up = { ioRunning: 'Yes', sourceUnreachable: false };
const stopped = { ioRunning: 'No', sourceUnreachable: false };

describe('judgeSourceLoss', () => {
  it('confirms the loss when every replica that watches the source has lost it', () => {
    expect(judgeSourceLoss([{ name: 'a', replica: lost }, { name: 'b', replica: lost }])).toEqual({ gone: true, witnesses: ['a', 'b'] });
  });

  it('is vetoed by any replica still connected to the source', () => {
    const v = judgeSourceLoss([{ name: 'a', replica: lost }, { name: 'b', replica: up }]);
    expect(v).toEqual({ gone: false, reason: 'b still replicate from it' });
  });

  it('does not count a replica with a stopped IO thread as a witness, nor let it veto', () => {
    expect(judgeSourceLoss([{ name: 'a', replica: lost }, { name: 'b', replica: stopped }])).toEqual({ gone: true, witnesses: ['a'] });
    const none = judgeSourceLoss([{ name: 'b', replica: stopped }]);
    expect(none.gone).toBe(false);
    expect(none).toMatchObject({ reason: expect.stringContaining("no replica's IO thread confirms the loss (b: IO No)") });
  });

  it('refuses without any replica', () => {
    expect(judgeSourceLoss([])).toEqual({ gone: false, reason: 'no reachable replica to promote' });
  });
});
