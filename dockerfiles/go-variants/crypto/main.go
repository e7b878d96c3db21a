// A small program that uses the crypto the FIPS question is about: a digest and a TLS config.
package main

import (
	"crypto/sha256"
	"crypto/tls"
	"fmt"
)

func main() {
	sum := sha256.Sum256([]byte("fipscheck"))
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	fmt.Printf("%x tls>=%#x\n", sum, config.MinVersion)
}
