// A small Node.js service: hashes its input with SHA-256 and reports what its crypto runs on.
'use strict';
const crypto = require('crypto');

const digest = crypto.createHash('sha256').update(process.argv[2] || 'fipscheck').digest('hex');
console.log(JSON.stringify({ sha256: digest, fips: crypto.getFips(), openssl: process.versions.openssl }));
setInterval(() => {}, 1 << 30); // stay up like a server
