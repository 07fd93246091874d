// A real OpenID Provider (panva's certified oidc-provider) on loopback for Bastion's
// SSO tests. Started and stopped by tests/sso/oidc_provider.py; every setting comes
// from the environment so the tests own the keys, accounts and token lifetimes:
//
//   OP_PORT               port on 127.0.0.1 (also accepted as the first argument)
//   OP_CLIENT_ID          the one confidential client (client_secret_basic)
//   OP_CLIENT_SECRET
//   OP_REDIRECT_URI       its only redirect URI
//   OP_API_AUDIENCE       the resource server: access tokens are JWTs with this aud
//   OP_JWKS               {"keys": [private JWKs with kid]}; the first signs. To rotate,
//                         restart with another set on the same port.
//   OP_ACCOUNTS           {"<login>": {"email", "email_verified", "name", "groups"}}
//   OP_ID_TOKEN_TTL       seconds (default 600)
//   OP_ACCESS_TOKEN_TTL   seconds (default 600)
//
// Login uses devInteractions: GET /auth -> /interaction/<uid> (login form: POST
// prompt=login, login=<account>, password=<anything>) -> /interaction/<uid> (consent:
// POST prompt=consent) -> redirect_uri?code=...&state=...&iss=...
// It prints "listening <issuer>" on stdout once it accepts connections.

import { randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`op.mjs: ${name} is required`);
    process.exit(2);
  }
  return value;
}

const port = Number(process.argv[2] ?? required('OP_PORT'));
const issuer = `http://127.0.0.1:${port}`;
const apiAudience = required('OP_API_AUDIENCE');
const accounts = JSON.parse(required('OP_ACCOUNTS'));
const jwks = JSON.parse(required('OP_JWKS'));
const idTokenTtl = Number(process.env.OP_ID_TOKEN_TTL ?? 600);
const accessTokenTtl = Number(process.env.OP_ACCESS_TOKEN_TTL ?? 600);

function accountClaims(id) {
  const account = accounts[id];
  return {
    sub: id,
    email: account.email,
    email_verified: account.email_verified,
    name: account.name,
    groups: account.groups,
  };
}

const configuration = {
  clients: [
    {
      client_id: required('OP_CLIENT_ID'),
      client_secret: required('OP_CLIENT_SECRET'),
      redirect_uris: [required('OP_REDIRECT_URI')],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks,
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups', 'api'],
  // Scope claims go into the ID token too (as most enterprise IdPs do), because the
  // access token is for the API (its aud), not for the userinfo endpoint.
  conformIdTokenClaims: false,
  async findAccount(_ctx, id) {
    if (!Object.hasOwn(accounts, id)) return undefined;
    return { accountId: id, claims: async () => accountClaims(id) };
  },
  pkce: { required: () => true },
  ttl: {
    IdToken: idTokenTtl,
    AccessToken: accessTokenTtl,
    AuthorizationCode: 120,
  },
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => apiAudience,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resource) => {
        if (resource !== apiAudience) throw new Provider.errors.InvalidTarget();
        return {
          scope: 'api',
          audience: apiAudience,
          accessTokenTTL: accessTokenTtl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  // JWT access tokens carry who the user is, as Okta's and Entra's do.
  async extraTokenClaims(_ctx, token) {
    if (!token.accountId || !Object.hasOwn(accounts, token.accountId)) return undefined;
    const { email, email_verified: emailVerified, groups } = accountClaims(token.accountId);
    return { email, email_verified: emailVerified, groups };
  },
};

const provider = new Provider(issuer, configuration);
const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});

function stop() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
