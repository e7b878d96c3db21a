// A program without any crypto: go.fips-toolchain does not apply to it.
package main

import "fmt"

func main() {
	fmt.Println("no crypto here")
}
