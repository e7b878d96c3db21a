//go:build !cgo

package cryptoreport

// Without cgo no OpenSSL can be loaded, and none is asked.
func openSSLView(string) *OpenSSL { return nil }
