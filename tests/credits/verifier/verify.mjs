// An outside verifier for our certificates, written by no one here: Digital Bazaar's VC 2.0 stack
// (@digitalbazaar/vc, data-integrity, eddsa-jcs-2022-cryptosuite, ed25519-multikey, did-method-key).
//
//   node verify.mjs < credential.json
//
// Reads one credential (JSON) on stdin, prints {"verified": bool, "errors": [...]} on stdout and
// exits 0 when verified, 1 when not, 2 on unreadable input. Fully offline: the document loader
// serves only the contexts vendored in ./contexts and did:key documents built from the key itself;
// any other URL is an error, never a fetch.
import {readFile} from 'node:fs/promises';

import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as DidKey from '@digitalbazaar/did-method-key';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {createVerifyCryptosuite} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';

const here = new URL('./contexts/', import.meta.url);
const CONTEXTS = {
  'https://www.w3.org/ns/credentials/v2': 'credentials-v2.jsonld',
  'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json': 'ob-v3p0-context-3.0.3.json',
};
const contexts = new Map();
for(const [url, file] of Object.entries(CONTEXTS)) {
  contexts.set(url, JSON.parse(await readFile(new URL(file, here), 'utf8')));
}

const didKey = DidKey.driver();
didKey.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});

async function documentLoader(url) {
  if(contexts.has(url)) {
    return {contextUrl: null, documentUrl: url, document: contexts.get(url)};
  }
  if(url.startsWith('did:key:')) {
    // the DID document, or one of its verification methods (url with a #fragment)
    const document = await didKey.get({url});
    return {contextUrl: null, documentUrl: url, document};
  }
  throw new Error(`offline verifier: no document for ${url}`);
}

async function main() {
  let credential;
  try {
    const chunks = [];
    for await (const chunk of process.stdin) {
      chunks.push(chunk);
    }
    credential = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch(e) {
    process.stdout.write(JSON.stringify({verified: false, errors: [`unreadable input: ${e.message}`]}) + '\n');
    return 2;
  }
  const suite = new DataIntegrityProof({cryptosuite: createVerifyCryptosuite()});
  const result = await vc.verifyCredential({credential, suite, documentLoader});
  const errors = [];
  const collect = e => {
    if(!e) {
      return;
    }
    for(const one of Array.isArray(e) ? e : [e]) {
      errors.push(one.message || String(one));
      if(one.errors) {
        collect(one.errors);
      }
    }
  };
  collect(result.error);
  for(const r of result.results || []) {
    collect(r.error);
  }
  process.stdout.write(JSON.stringify({verified: result.verified === true, errors}) + '\n');
  return result.verified === true ? 0 : 1;
}

process.exitCode = await main();
