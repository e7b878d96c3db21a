#!/bin/sh
# Purge GnuTLS, Hogweed and Nettle (Nettle last: apt's verifier needs it; nothing can be
# installed with apt afterwards) and apt's lists and cache, as the openssl-fips reference does.
set -e
for pkg in $(dpkg-query -W -f '${Package}\n' | grep -E '^lib(gnutls|hogweed)') \
           $(dpkg-query -W -f '${Package}\n' | grep -E '^libnettle'); do
  dpkg --purge --force-depends "$pkg"
done
apt-get clean
rm -rf /var/lib/apt/lists/*
! ls /usr/lib/*/libgnutls* /usr/lib/*/libnettle* /usr/lib/*/libhogweed* 2>/dev/null
