import { describe, expect, it } from '@jest/globals';
import { AclOperations, ResourceTypes } from '@platformatic/kafka';
import { appAcls, describeAcls, missingAcls } from './acls.ts';

describe('the application account\'s ACLs', () => {
  const wanted = appAcls('upm_app');

  it('allow data access on every topic, group and transactional id, and nothing on the cluster nor any admin operation', () => {
    expect(describeAcls(wanted)).toBe('TOPIC:READ,WRITE,CREATE,DESCRIBE,DESCRIBE_CONFIGS; GROUP:READ,DESCRIBE; TRANSACTIONAL_ID:WRITE,DESCRIBE');
    for (const a of wanted) expect(a).toMatchObject({ principal: 'User:upm_app', host: '*', resourceName: '*', resourcePatternType: 3, permissionType: 3 });
    expect(wanted.filter((a) => a.resourceType === ResourceTypes.CLUSTER)).toEqual([]);
    const admin = [AclOperations.ALL, AclOperations.DELETE, AclOperations.ALTER, AclOperations.ALTER_CONFIGS, AclOperations.CLUSTER_ACTION];
    expect(wanted.filter((a) => (admin as number[]).includes(a.operation))).toEqual([]);
  });

  it('are created only where missing; other ACLs of the account are left as they are', () => {
    expect(missingAcls(wanted, [])).toEqual(wanted);
    expect(missingAcls(wanted, wanted)).toEqual([]);
    const extra = { ...wanted[0], resourceName: 'audit' } as (typeof wanted)[number];
    const [first, ...rest] = wanted;
    expect(missingAcls(wanted, [extra, ...rest])).toEqual([first]);
  });
});
