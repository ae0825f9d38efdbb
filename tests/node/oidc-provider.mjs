// A real OpenID Connect provider for the end-to-end tests (npm `oidc-provider`), on loopback.
//
//   node oidc-provider.mjs [--port N] [--client-id ID] [--client-secret SECRET]
//                          [--redirect-uri URL] [--jwt-userinfo]
//
// Options fall back to OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI and
// OIDC_JWT_USERINFO=1; the port defaults to 0 (any free port). Once ready it prints
// `listening <issuer URL>` on stdout; logs go to stderr.
//
// One confidential client, PKCE required, the development login and consent forms
// (`devInteractions`), which a test posts like a browser would. Any login and password sign
// in; the login is the subject. The e-mail is the login up to an optional `#` (so
// `alice@x.fr#idp2` is another subject with alice@x.fr's e-mail, as ProConnect gives one
// subject per identity provider), with `@mairie-exemple.fr` appended when it has no `@`.
// With --jwt-userinfo the userinfo endpoint answers a signed JWT, as ProConnect does.

import http from 'node:http';
import process from 'node:process';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
    'jwt-userinfo': { type: 'boolean' },
  },
});

const port = Number(values.port ?? process.env.OIDC_PORT ?? 0);
const clientId = values['client-id'] ?? process.env.OIDC_CLIENT_ID ?? 'relais';
const clientSecret = values['client-secret'] ?? process.env.OIDC_CLIENT_SECRET ?? 'relais-test-secret';
const redirectUri = values['redirect-uri'] ?? process.env.OIDC_REDIRECT_URI ?? 'http://127.0.0.1:8080/api/auth/oidc/callback';
const jwtUserinfo = values['jwt-userinfo'] ?? process.env.OIDC_JWT_USERINFO === '1';

function capitalise(word) {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function account(login) {
  const address = login.split('#')[0];
  const email = address.includes('@') ? address : `${address}@mairie-exemple.fr`;
  const givenName = capitalise(email.split('@')[0].split(/[.+]/)[0] || 'agent');
  return {
    sub: login,
    email,
    email_verified: true,
    given_name: givenName,
    usual_name: 'Dupont',
    name: `${givenName} Dupont`,
    siret: '21750001600019',
  };
}

// Listen first, so that the issuer URL carries the real port even when it was 0.
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      ...(jwtUserinfo ? { userinfo_signed_response_alg: 'RS256' } : {}),
    },
  ],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'usual_name'],
    siret: ['siret'],
  },
  scopes: ['openid', 'email', 'profile', 'siret'],
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return account(id);
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    jwtUserinfo: { enabled: jwtUserinfo },
  },
  pkce: { required: () => true },
  cookies: { keys: ['relais-tests-only-not-a-secret'] },
});
provider.on('server_error', (_ctx, error) => console.error('oidc-provider server_error', error));

server.on('request', provider.callback());
process.stdout.write(`listening ${issuer}\n`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
