// grpc-health-probe stands in for the liveness probe shipped beside aws-node: it checks an
// HMAC-SHA256 over its request, as a client authenticating a health request would, and exits.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"

	"example.com/aws-node-fips/internal/cryptoreport"
)

func main() {
	cryptoreport.IfRequested()
	mac := hmac.New(sha256.New, []byte("aws-node"))
	mac.Write([]byte("grpc.health.v1.Health/Check"))
	fmt.Printf("grpc-health-probe: SERVING mac=%x\n", mac.Sum(nil)[:8])
}
