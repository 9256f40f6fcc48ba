// Literals for ProxySQL's admin interface. Admin statements run on SQLite, where a string literal ends only at a
// single quote and a backslash is an ordinary character: SQLite has no C-style escapes, and ProxySQL advertises
// NO_BACKSLASH_ESCAPES to clients for that reason (sysown/proxysql#1446). So quotes are doubled and backslashes are
// left as they are: doubling them, as MySQL quoting would, stores two backslashes, and every later plan would see a
// difference that never goes away.

/** A SQLite string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** An integer column value; the inputs are validated before they get here, so anything else is a bug upstream. */
export function sqlInt(value: number): string {
  return Number.isSafeInteger(value) ? String(value) : 'NULL';
}

export function sqlNullableString(value: string | null): string {
  return value === null ? 'NULL' : sqlString(value);
}

/** Printable ASCII only: everything else in a password goes through UNHEX so that no byte depends on the client. */
const PLAIN = /^[\x20-\x7e]*$/;

/**
 * A password hash literal. caching_sha2_password hashes ('$A$...') carry 20 raw salt bytes that may be quotes,
 * newlines or other control characters, so they are sent the way ProxySQL's documentation imports them:
 * UNHEX('<hex of authentication_string>'). mysql_native_password hashes ('*' + hex) are plain text.
 */
export function sqlPassword(value: string): string {
  if (!value.startsWith('$A$') && PLAIN.test(value)) return sqlString(value);
  return `UNHEX('${Buffer.from(value, 'utf8').toString('hex').toUpperCase()}')`;
}
