// cni-agent stands in for aws-node's IPAM daemon: the image's main program. It states its
// FIPS mode, prepares the TLS configuration a daemon would serve with, then waits for a
// signal, so a container of the image stays up as a DaemonSet pod would.
package main

import (
	"crypto/fips140"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	digest := sha256.Sum256([]byte(fmt.Sprint(config.MinVersion)))
	fmt.Printf("cni-agent: fips140=%t tls-min=%#x config-digest=%x\n", fips140.Enabled(),
		config.MinVersion, digest[:8])
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
