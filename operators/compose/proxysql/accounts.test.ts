import { describe, expect, it } from '@jest/globals';
import { accountLabel, parseAccounts, usersFromAccounts } from './accounts.ts';

const HASH_APP = '*72B37E3F4D899EDC98A9363172669E192CE424D5';

// Rows as MariaDB 10.11 returns them for ACCOUNTS_SQL.mariadb (taken from a real server; the integration suite runs
// the query itself): JSON_VALUE gives '1' for a locked account and NULL otherwise.
const MARIADB_ROWS = [
  { user: 'mariadb.sys', host: 'localhost', plugin: 'mysql_native_password', hash: '', is_role: 'N', max_user_connections: 0, locked: '1' },
  { user: 'root', host: 'localhost', plugin: 'mysql_native_password', hash: 'invalid', is_role: 'N', max_user_connections: 0, locked: null },
  { user: 'upm_admin', host: '%', plugin: 'mysql_native_password', hash: '*B69027D44F6E5EDC07F1AEAD1477967B16F28227', is_role: 'N', max_user_connections: 0, locked: null },
  { user: 'app', host: '%', plugin: 'mysql_native_password', hash: HASH_APP, is_role: 'N', max_user_connections: 0, locked: null },
  { user: 'app', host: 'localhost', plugin: 'mysql_native_password', hash: HASH_APP, is_role: 'N', max_user_connections: 0, locked: null },
  { user: 'locked', host: '%', plugin: 'mysql_native_password', hash: '*894549142A2819BC7952B608F00C489C989212E8', is_role: 'N', max_user_connections: 0, locked: '1' },
  { user: 'r1', host: '', plugin: '', hash: '', is_role: 'Y', max_user_connections: 0, locked: null },
  { user: 'lim', host: '%', plugin: 'mysql_native_password', hash: '*3FBEFEC33FD8E842761B011670846D73057E67BE', is_role: 'N', max_user_connections: '5', locked: null },
  { user: 'sock', host: '%', plugin: 'unix_socket', hash: '', is_role: 'N', max_user_connections: 0, locked: null },
];

describe('accounts', () => {
  it('skips roles and local-only accounts, copies locked ones inactive and keeps max_user_connections', () => {
    const { users, labels } = usersFromAccounts(parseAccounts(MARIADB_ROWS), { maxConnections: 10000 });
    expect(labels).toEqual(["'upm_admin'@'%'", "'app'@'%'", "'locked'@'%'", "'lim'@'%'", "'sock'@'%'"]);
    expect(users).toEqual([
      { username: 'upm_admin', passwordHash: '*B69027D44F6E5EDC07F1AEAD1477967B16F28227', maxConnections: 10000 },
      { username: 'app', passwordHash: HASH_APP, maxConnections: 10000 },
      { username: 'locked', passwordHash: '*894549142A2819BC7952B608F00C489C989212E8', maxConnections: 10000, active: false },
      { username: 'lim', passwordHash: '*3FBEFEC33FD8E842761B011670846D73057E67BE', maxConnections: 5 },
      // Left for desired.ts to refuse (no hash ProxySQL can use), with the account named.
      { username: 'sock', passwordHash: '', maxConnections: 10000 },
    ]);
  });

  it("reads MySQL 8's flags and text the driver hands back as bytes", () => {
    const [a] = parseAccounts([{ user: Buffer.from('svc'), host: '10.%', plugin: 'caching_sha2_password', hash: Buffer.from('$A$005$salt'), is_role: 'N', max_user_connections: 0, locked: 'Y' }]);
    expect(a).toEqual({ user: 'svc', host: '10.%', plugin: 'caching_sha2_password', hash: '$A$005$salt', isRole: false, locked: true, maxUserConnections: 0 });
    expect(accountLabel(a!)).toBe("'svc'@'10.%'");
  });

  it('sends every user to the given default hostgroup', () => {
    const { users } = usersFromAccounts(parseAccounts([MARIADB_ROWS[3]!]), { defaultHostgroup: 20 });
    expect(users).toEqual([{ username: 'app', passwordHash: HASH_APP, defaultHostgroup: 20 }]);
  });
});
