// aws-k8s-agent stands in for aws-node's IPAM daemon, the image's main program: it prepares
// the TLS configuration and the key a daemon would serve with, states which crypto it runs
// on, then waits for a signal as a DaemonSet pod's container would. With --crypto-report it
// prints its crypto report and exits.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"example.com/aws-node-fips/internal/cryptoreport"
)

func main() {
	cryptoreport.IfRequested()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fmt.Fprintln(os.Stderr, "aws-k8s-agent: key:", err)
		os.Exit(1)
	}
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	digest := sha256.Sum256(key.PublicKey.X.Bytes())
	fmt.Printf("aws-k8s-agent: libcrypto=%v tls-min=%#x key=%x\n",
		cryptoreport.Make().Libcrypto, config.MinVersion, digest[:8])
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
