import { expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { memberKubeconfigRefusal } from './member-kubeconfig.ts';

const kc = (user: Record<string, unknown>, cluster: Record<string, unknown> = { server: 'https://10.0.0.1:6443', 'certificate-authority-data': 'Q0E=' }) =>
  stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'm', cluster }], users: [{ name: 'u', user }], contexts: [{ name: 'm', context: { cluster: 'm', user: 'u' } }], 'current-context': 'm' });

it('accepts inline credentials and an inline CA', () => {
  expect(memberKubeconfigRefusal(kc({ token: 't' }))).toBeUndefined();
  expect(memberKubeconfigRefusal(kc({ 'client-certificate-data': 'Yw==', 'client-key-data': 'aw==' }))).toBeUndefined();
  expect(memberKubeconfigRefusal(kc({ token: 't' }, { server: 'https://x', 'insecure-skip-tls-verify': false }))).toBeUndefined();
});

it('names the field of anything that runs code, reads the hub\'s files or skips TLS verification', () => {
  expect(memberKubeconfigRefusal(kc({ exec: { command: 'sh' } }))).toBe('users[0].user.exec: exec plugins are not allowed in a member kubeconfig');
  expect(memberKubeconfigRefusal(kc({ 'auth-provider': { name: 'oidc' } }))).toMatch(/^users\[0\]\.user\.auth-provider: /);
  for (const f of ['token-file', 'tokenFile', 'client-certificate', 'client-key']) expect(memberKubeconfigRefusal(kc({ [f]: '/etc/passwd' }))).toMatch(new RegExp(`^users\\[0\\]\\.user\\.${f}: files of the hub`));
  expect(memberKubeconfigRefusal(kc({ token: 't' }, { server: 'https://x', 'certificate-authority': '/ca' }))).toMatch(/^clusters\[0\]\.cluster\.certificate-authority: /);
  expect(memberKubeconfigRefusal(kc({ token: 't' }, { server: 'https://x', 'insecure-skip-tls-verify': true }))).toMatch(/^clusters\[0\]\.cluster\.insecure-skip-tls-verify: /);
  expect(memberKubeconfigRefusal(kc({ token: 't' }, { server: 'https://x', 'proxy-url': 'http://p' }))).toMatch(/^clusters\[0\]\.cluster\.proxy-url: /);
  // A YAML merge key the loader would resolve is not a way around the list.
  expect(memberKubeconfigRefusal('users:\n- name: u\n  user:\n    <<: {exec: {command: sh}}\n')).toMatch(/^users\[0\]\.user\.<<: /);
  expect(memberKubeconfigRefusal('users: [')).toMatch(/^not a readable kubeconfig/);
});
