// crypto-report prints what its crypto does at run time (internal/cryptoreport); the
// variants image holds it built every way the golang-fips toolchain allows.
package main

import "example.com/aws-node-fips/internal/cryptoreport"

func main() { cryptoreport.Print() }
