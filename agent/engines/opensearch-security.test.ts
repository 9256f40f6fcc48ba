import { describe, expect, it } from '@jest/globals';
import bcrypt from 'bcryptjs';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { OPENSEARCH_NODES_DN, TRANSPORT_KEYS, transportCredentials } from '../../lib/transportcerts.ts';
import { securityConfigFiles, securityFiles, SECURITY_DIR, TRANSPORT_DIR, TRANSPORT_FILES } from './opensearch-security.ts';

describe('the OpenSearch security plugin\'s files', () => {
  it('name the admin account with all_access, basic authentication and no anonymous access', () => {
    const files = securityConfigFiles('upm_admin', '$2b$12$abc');
    expect(Object.keys(files).sort()).toEqual(['action_groups.yml', 'config.yml', 'internal_users.yml', 'roles.yml', 'roles_mapping.yml', 'tenants.yml']);
    const config = parse(files['config.yml'] ?? '') as { config: { dynamic: { http: { anonymous_auth_enabled: boolean }; authc: Record<string, { http_authenticator: { type: string }; authentication_backend: { type: string } }> } } };
    expect(config.config.dynamic.http.anonymous_auth_enabled).toBe(false);
    expect(Object.values(config.config.dynamic.authc).map((a) => [a.http_authenticator.type, a.authentication_backend.type])).toEqual([['basic', 'internal']]);
    expect(parse(files['internal_users.yml'] ?? '')).toMatchObject({ _meta: { type: 'internalusers', config_version: 2 }, upm_admin: { hash: '$2b$12$abc', reserved: true } });
    expect(parse(files['roles_mapping.yml'] ?? '')).toMatchObject({ all_access: { users: ['upm_admin'] } });
    for (const f of Object.values(files)) expect(parse(f)).toHaveProperty('_meta.config_version', 2);
  });

  it('keep a hostile user name one YAML key (escaped by the YAML library)', () => {
    const name = 'a: b\n"c\\\' #d';
    const users = parse(securityConfigFiles(name, 'h')['internal_users.yml'] ?? '') as Record<string, unknown>;
    expect(Object.keys(users).sort()).toEqual(['_meta', name].sort());
    expect(parse(securityConfigFiles(name, 'h')['roles_mapping.yml'] ?? '')).toMatchObject({ all_access: { users: [name] } });
  });

  it('hold the admin password only as a bcrypt hash, and the cluster\'s transport material', async () => {
    const password = 'p"\\\n€$x';
    const tls = await transportCredentials('opensearch');
    const files = await securityFiles({ 'admin-username': 'upm_admin', 'admin-password': password, ...tls }, 'search-0');
    const all = Object.values(files).join('\n');
    expect(all).not.toContain(password);
    const hash = (parse(files[`${SECURITY_DIR}/internal_users.yml`] ?? '') as Record<string, { hash: string }>).upm_admin?.hash ?? '';
    expect(bcrypt.compareSync(password, hash)).toBe(true);
    expect(files[`${TRANSPORT_DIR}/${TRANSPORT_FILES.key}`]).toBe(tls[TRANSPORT_KEYS.key]);
    expect(files[`${TRANSPORT_DIR}/${TRANSPORT_FILES.cert}`]).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it('are refused without the admin account or the transport material, naming what is missing', async () => {
    await expect(securityFiles({ 'admin-username': 'upm_admin', 'admin-password': 'x' }, 'search-0')).rejects.toThrow(/search-0: .*transport-ca, transport-cert, transport-key/);
  });

  it('match the template: the nodes_dn it names and the files it points the plugin at', () => {
    const tpl = readFileSync(new URL('../../config/templates/opensearch-2.19.yaml', import.meta.url), 'utf8');
    expect(tpl).toContain(`plugins.security.nodes_dn: [ "${OPENSEARCH_NODES_DN}" ]`);
    for (const f of Object.values(TRANSPORT_FILES)) expect(tpl).toContain(`${TRANSPORT_DIR}/${f}`);
    expect(tpl).toMatch(/plugins\.security\.ssl\.http\.enabled: false/);
  });
});
