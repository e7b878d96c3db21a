#!/bin/sh
# Entrypoint of the cni-fips reference image, as the aws-node FIPS image's: the FIPS preflight
# runs first and execs the main program only if OpenSSL's FIPS provider is active, FIPS mode is
# on and the module passed its self-tests; otherwise it prints why and the container stops.
exec /usr/local/bin/fips-startup-check --require-provider fips -- "$@"
