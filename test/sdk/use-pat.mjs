// use-pat.mjs acts with a personal access token created in the console, as a
// script would: @dfns/sdk's DfnsApiClient with the token as its auth token and
// @dfns/sdk-keysigner's AsymmetricKeySigner holding the key the browser
// generated. It finds its own token by its credential id and renames it, one
// request the SDK signs itself (spec §4.4, §5.1), then prints the answer as
// JSON on stdout. The e2e test TestPATFromConsoleWorksWithSDK runs it with:
//   COUNTERSIGN_URL              e.g. http://127.0.0.1:PORT
//   COUNTERSIGN_PAT              the accessToken the console showed
//   COUNTERSIGN_PAT_CRED_ID      its credId
//   COUNTERSIGN_PAT_PRIVATE_KEY  the PKCS #8 PEM private key
//   COUNTERSIGN_PAT_NEW_NAME     optional: the new name (default "renamed by the SDK")
import { DfnsApiClient } from '@dfns/sdk';
import { AsymmetricKeySigner } from '@dfns/sdk-keysigner';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`use-pat: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

const baseUrl = env('COUNTERSIGN_URL');
const credId = env('COUNTERSIGN_PAT_CRED_ID');
const signer = new AsymmetricKeySigner({ privateKey: env('COUNTERSIGN_PAT_PRIVATE_KEY'), credId });
const api = new DfnsApiClient({ baseUrl, authToken: env('COUNTERSIGN_PAT'), signer });

try {
  const { items } = await api.auth.listPersonalAccessTokens();
  const own = items.find((t) => t.credId === credId);
  if (!own) throw new Error(`no personal access token with credId ${credId} among ${items.length}`);
  const name = process.env.COUNTERSIGN_PAT_NEW_NAME || 'renamed by the SDK';
  const updated = await api.auth.updatePersonalAccessToken({ tokenId: own.tokenId, body: { name } });
  console.log(JSON.stringify(updated));
} catch (err) {
  console.error(`use-pat: ${err.message}`, err.context ?? '');
  process.exit(1);
}
