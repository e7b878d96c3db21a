// cni-plugin stands in for a CNI plugin binary: it reads a network configuration on stdin
// and prints its SHA-256, as a plugin would fingerprint the configuration it was given.
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

func main() {
	hash := sha256.New()
	if _, err := io.Copy(hash, os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "cni-plugin:", err)
		os.Exit(1)
	}
	fmt.Printf("%x\n", hash.Sum(nil))
}
