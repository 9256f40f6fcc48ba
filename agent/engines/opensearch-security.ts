// The security plugin's configuration of an OpenSearch node: the files it initialises its security index from on the
// cluster's first start (plugins.security.allow_default_init_securityindex; afterwards the index is the record and
// these files are not read again), and the transport TLS material. Basic authentication against the plugin's
// internal users, anonymous access off; the platform's admin account is the only user in the files (its password as
// a bcrypt hash, never in clear) and has all_access. Every other account (the application account) is the
// ElasticsearchCluster operator's to create through the security REST API. Values go in through the YAML library,
// so a user name is always one quoted scalar.
import bcrypt from 'bcryptjs';
import { stringify } from 'yaml';
import { TRANSPORT_KEYS } from '../../lib/transportcerts.ts';

/** The security configuration's directory below the node's config directory (where the plugin looks for it). */
export const SECURITY_DIR = 'opensearch-security';
/** The transport TLS files below the node's config directory, as the template's settings name them. */
export const TRANSPORT_DIR = 'upm-transport';
export const TRANSPORT_FILES = { ca: 'ca.pem', cert: 'node.pem', key: 'node-key.pem' } as const;
/** The cost the security plugin itself hashes with. */
const BCRYPT_ROUNDS = 12;

const meta = (type: string) => ({ _meta: { type, config_version: 2 } });

/** Pure: the security configuration files (name -> YAML) for an admin account whose password hashes to `hash`. */
export function securityConfigFiles(adminUser: string, hash: string): Record<string, string> {
  const docs: Record<string, object> = {
    'config.yml': {
      ...meta('config'),
      config: {
        dynamic: {
          http: { anonymous_auth_enabled: false },
          authc: {
            basic_internal_auth_domain: {
              description: 'HTTP basic authentication against the internal users',
              http_enabled: true, transport_enabled: true, order: 0,
              http_authenticator: { type: 'basic', challenge: true },
              authentication_backend: { type: 'internal' },
            },
          },
        },
      },
    },
    'internal_users.yml': { ...meta('internalusers'), [adminUser]: { hash, reserved: true, description: "the platform's account (UPM)" } },
    'roles_mapping.yml': { ...meta('rolesmapping'), all_access: { reserved: true, users: [adminUser] } },
    'roles.yml': meta('roles'),
    'action_groups.yml': meta('actiongroups'),
    'tenants.yml': meta('tenants'),
  };
  return Object.fromEntries(Object.entries(docs).map(([name, doc]) => [name, stringify(doc, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' })]));
}

/** The files to write below the node's config directory (relative path -> content), from the unit's credentials. */
export async function securityFiles(credentials: Record<string, string>, unit: string): Promise<Record<string, string>> {
  const user = credentials['admin-username'];
  const password = credentials['admin-password'];
  const missing = ['admin-username', 'admin-password', ...Object.values(TRANSPORT_KEYS)].filter((k) => !credentials[k]);
  if (!user || !password || missing.length) {
    throw new Error(`${unit}: the unit's credentials Secret has no ${missing.join(', ')}: the security plugin needs the admin account and the cluster's transport certificates`);
  }
  const files: Record<string, string> = {};
  for (const [name, text] of Object.entries(securityConfigFiles(user, await bcrypt.hash(password, BCRYPT_ROUNDS)))) files[`${SECURITY_DIR}/${name}`] = text;
  for (const [k, file] of Object.entries(TRANSPORT_FILES)) files[`${TRANSPORT_DIR}/${file}`] = credentials[TRANSPORT_KEYS[k as keyof typeof TRANSPORT_KEYS]] ?? '';
  return files;
}
