#!/bin/sh
# Installs the AsyncAPI initiative's JSON Schema of AsyncAPI 3.0.0 from the npm package
# @asyncapi/specs (Apache-2.0), pinned by version and checksum, into .venv/share/asyncapi-specs/.
# tests/test_event_schemas.py validates docs/asyncapi.json with it (issue 16); it is never fetched
# at test time. Called by `make asyncapi-spec` (and so by `make test`).
set -eu
VERSION=6.11.1
SHA256=01af8744dc33c0c7eb2e908f6a955319ee58b70ecadc9387d1aeb16c0cd28928
DEST=.venv/share/asyncapi-specs
[ -f "$DEST/3.0.0.json" ] && [ -f "$DEST/VERSION" ] && [ "$(cat "$DEST/VERSION")" = "$VERSION" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@asyncapi/specs@$VERSION" >/dev/null)
echo "$SHA256  $tmp/asyncapi-specs-$VERSION.tgz" | sha256sum -c - >/dev/null
tar xzf "$tmp/asyncapi-specs-$VERSION.tgz" -C "$tmp" package/schemas/3.0.0.json package/LICENSE
mkdir -p "$DEST"
cp "$tmp/package/schemas/3.0.0.json" "$DEST/3.0.0.json"
cp "$tmp/package/LICENSE" "$DEST/LICENSE"
echo "$VERSION" > "$DEST/VERSION"
echo "installed @asyncapi/specs $VERSION schemas/3.0.0.json in $DEST"
