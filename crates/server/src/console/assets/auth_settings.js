// An integration's endpoint authentication: the type, the fields it takes
// (secrets write-only: a saved one reads ****** and is kept unless typed
// over), and extra certificate authorities to trust.

import { field, h, input, select, textarea } from './dom.js';

const TYPES = [
  ['none', 'None (the signature only)'], ['basic', 'Basic (user and password)'], ['bearer', 'Bearer token'],
  ['oauth2_client_credentials', 'OAuth2 client credentials'], ['mtls', 'Client certificate (mutual TLS)'],
];

// [name, label, type it belongs to, is it secret, is it PEM]
const FIELDS = [
  ['username', 'User', 'basic', false, false],
  ['password', 'Password', 'basic', true, false],
  ['token', 'Token', 'bearer', true, false],
  ['token_url', 'Token URL', 'oauth2_client_credentials', false, false],
  ['client_id', 'Client id', 'oauth2_client_credentials', false, false],
  ['client_secret', 'Client secret', 'oauth2_client_credentials', true, false],
  ['scope', 'Scope (optional)', 'oauth2_client_credentials', false, false],
  ['audience', 'Audience (optional)', 'oauth2_client_credentials', false, false],
  ['client_cert_pem', 'Client certificate (PEM)', 'mtls', false, true],
  ['client_key_pem', 'Client private key (PEM)', 'mtls', true, true],
];

export function authControls(auth) {
  const a = auth || {};
  const kind = select('auth_type', TYPES, a.type || 'none');
  const parts = FIELDS.map(([name, label, type, secret, pem]) => {
    const attrs = { value: a[name] || '', autocomplete: 'off' };
    const control = pem ? textarea(`auth_${name}`, { ...attrs, class: 'mono', rows: 3 })
      : input(`auth_${name}`, { ...attrs, type: secret ? 'password' : 'text' });
    const wrap = field(label, control, secret && a[name] ? 'Saved; leave ****** to keep it.' : null);
    wrap.dataset.field = `auth.${name}`;
    wrap.dataset.authType = type;
    return wrap;
  });
  const show = () => parts.forEach((p) => { p.hidden = p.dataset.authType !== kind.value; });
  kind.addEventListener('change', show);
  show();
  const ca = field('Extra certificate authorities (PEM, optional)',
    textarea('auth_ca_pem', { value: a.ca_pem || '', class: 'mono', rows: 3 }),
    'Trusted for this endpoint besides the usual ones: an internal CA, without turning verification off.');
  ca.dataset.field = 'auth.ca_pem';
  return h('fieldset', { class: 'auth', 'data-field': 'auth' }, h('legend', {}, 'Authentication'),
    field('Type', kind), parts, ca);
}

// The `auth` of a form, with only what its type uses.
export function readAuth(fd) {
  const type = fd.get('auth_type') || 'none';
  const auth = { type };
  for (const [name, , owner] of FIELDS) {
    const v = (fd.get(`auth_${name}`) || '').trim();
    if (owner === type && v) auth[name] = v;
  }
  const ca = (fd.get('auth_ca_pem') || '').trim();
  if (ca) auth.ca_pem = ca;
  return auth;
}
