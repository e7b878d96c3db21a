#!/bin/sh
# Entrypoint of the cni-fips reference image, as the aws-node FIPS image's: the FIPS
# preflight first, then the main program; a failed preflight stops the container.
set -e
if [ -x /usr/local/bin/fips-startup-check ]; then
    /usr/local/bin/fips-startup-check
fi
exec "$@"
