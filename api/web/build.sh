#!/bin/sh
# Install the map page's browser libraries from package-lock.json and copy their dist files into
# api/static/vendor/, where the app serves them: the page loads nothing from a CDN and needs no tile server.
# Usage: api/web/build.sh   (from anywhere; needs npm). The copies are build output, not committed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
vendor=$(cd "$here/.." && pwd)/static/vendor
if ! command -v npm >/dev/null 2>&1; then
    echo "api/web/build.sh: npm is not installed; install Node.js (e.g. apt-get install npm) and run it again" >&2
    exit 1
fi
cd "$here"
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
rm -rf "$vendor/leaflet"
mkdir -p "$vendor/leaflet/images"
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$vendor/leaflet/"
cp node_modules/leaflet/dist/images/*.png "$vendor/leaflet/images/"
cp node_modules/leaflet/LICENSE "$vendor/leaflet/LICENSE"
echo "api/web/build.sh: leaflet $(node -p 'require("./node_modules/leaflet/package.json").version') -> $vendor/leaflet"
